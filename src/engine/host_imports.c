#include "engine/host_imports.h"

#include <stddef.h>
#include <string.h>

const tarmac_host_import_t *tarmac_host_import_find(const char *module,
                                                    const char *field) {
  static const tarmac_host_import_t *const tables[] = {
      tarmac_wapc_imports, tarmac_wasi_imports, tarmac_env_imports};
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
    for (const tarmac_host_import_t *imp = tables[t]; imp->module; imp++)
      if (strcmp(imp->module, module) == 0 && strcmp(imp->field, field) == 0)
        return imp;
  return NULL;
}
