"""c_driver: writes the C driver for one .wast file. The driver loads the
file's modules through Tarmac's engine (spec_engine.h: the server's cache,
compile and dlopen path) and reaches them only through their descriptors;
it defines the import forwarders through which modules reach the exports of
registered modules, and runs the planned steps in order under Tarmac's trap
protection, printing one PASS/FAIL line per command (protocol:
spec_harness.h).

The plan (see plan.py) is a list of steps; each step is a dict with a "kind"
and the data that kind needs. This module only turns a plan into C text."""

C_TYPES = {"i32": "u32", "i64": "u64", "f32": "f32", "f64": "f64",
           "funcref": "wasm_rt_funcref_t",
           "externref": "wasm_rt_externref_t"}
MULTI_CODES = {"i32": "i", "i64": "j", "f32": "f", "f64": "d",
               "funcref": "r", "externref": "e"}
SPEC_TYPES = {"i32": "SPEC_I32", "i64": "SPEC_I64", "f32": "SPEC_F32",
              "f64": "SPEC_F64", "funcref": "SPEC_FUNCREF",
              "externref": "SPEC_EXTERNREF"}
TABLE_TYPES = {"funcref": "wasm_rt_funcref_table_t",
               "externref": "wasm_rt_externref_table_t"}


def mangle(name):
    """wasm2c 1.0.32's name mangling: bytes outside [A-Za-z0-9_] and 'Z'
    become 'Z' followed by two uppercase hex digits."""
    out = []
    for byte in name.encode("utf-8"):
        char = chr(byte)
        if char.isascii() and (char.isalnum() or char == "_") and char != "Z":
            out.append(char)
        else:
            out.append("Z%02X" % byte)
    return "".join(out)


def c_string(text):
    """A C string literal for arbitrary text (hex escapes for non-ASCII)."""
    out = []
    for byte in text.encode("utf-8"):
        if 0x20 <= byte < 0x7F and byte not in (0x22, 0x5C, 0x3F):
            out.append(chr(byte))
        else:
            out.append('\\%03o' % byte)
    return '"' + "".join(out) + '"'


def result_c_type(results):
    if not results:
        return "void"
    if len(results) == 1:
        return C_TYPES[results[0]]
    return "struct wasm_multi_" + "".join(MULTI_CODES[t] for t in results)


def multi_struct(results):
    """The definition wasm2c 1.0.32 headers give a multi-value result type
    (the driver includes no module header, so it writes its own)."""
    name = result_c_type(results)
    fields = "".join("  %s %s%d;\n" % (C_TYPES[t], MULTI_CODES[t], i)
                     for i, t in enumerate(results))
    return "%s {\n%s};\n" % (name, fields)


def function_pointer_type(results, params):
    """C type of an export's function: the instance, then the params."""
    return "%s (*)(void *%s)" % (result_c_type(results), "".join(
        ", " + C_TYPES[t] for t in params))


# The scalar types wasm2c's headers define and the casts below use.
CORE_TYPES = """typedef uint32_t u32;
typedef uint64_t u64;
typedef float f32;
typedef double f64;
"""


def import_symbol(module, field):
    return "Z_%sZ_%s" % (mangle(module), mangle(field))


def extern_c_type(etype):
    """The C type an import/export accessor returns (non-function kinds)."""
    if etype.kind == "memory":
        return "wasm_rt_memory_t*"
    if etype.kind == "table":
        return TABLE_TYPES[etype.elem] + "*"
    return C_TYPES[etype.valtype] + "*"


def c_value(value):
    """A struct spec_value initializer (constant) for an argument."""
    vtype, text = value["type"], value.get("value")
    if vtype in ("funcref", "externref") and text == "null":
        return "{%s, SPEC_EXACT, 0, NULL}" % SPEC_TYPES[vtype]
    if vtype == "externref":
        return "{SPEC_EXTERNREF, SPEC_EXACT, 0, SPEC_EXTERNREF_VALUE(%du)}" \
            % int(text)
    if vtype not in ("i32", "i64", "f32", "f64"):
        raise ValueError("unsupported argument %r" % value)
    return "{%s, SPEC_EXACT, 0x%xull, NULL}" % (SPEC_TYPES[vtype], int(text))


def c_expected(value):
    """A struct spec_value initializer for an expected result."""
    vtype, text = value["type"], value.get("value")
    spec_type = SPEC_TYPES[vtype]
    if vtype in ("funcref", "externref"):
        if text is None:
            return "{%s, SPEC_NON_NULL, 0, NULL}" % spec_type
        if text == "null":
            return "{%s, SPEC_EXACT, 0, NULL}" % spec_type
        if vtype == "externref":
            return "{%s, SPEC_EXACT, 0, SPEC_EXTERNREF_VALUE(%du)}" % (
                spec_type, int(text))
        raise ValueError("unsupported funcref expectation %r" % value)
    if text == "nan:canonical":
        return "{%s, SPEC_NAN_CANONICAL, 0, NULL}" % spec_type
    if text == "nan:arithmetic":
        return "{%s, SPEC_NAN_ARITHMETIC, 0, NULL}" % spec_type
    return "{%s, SPEC_EXACT, 0x%xull, NULL}" % (spec_type, int(text))


# What an importing module gets as the instance of a registered module: the
# module the name was bound to when it was instantiated. `self` comes first
# and points at the binding itself because wasm2c 1.0.32 stores, for an
# imported function placed in a table, the *address of the importer's field*
# holding the binding pointer as the funcref's module_instance (not the
# pointer it holds). Reading `self` through either pointer yields the
# binding.
BINDING_STRUCT = """struct Z_%s_instance_t {
  struct Z_%s_instance_t *self;
  const char *target;
  struct spec_module *module;
};
"""


def c_signature(etype):
    """What determines the C prototype of an import accessor/function."""
    if etype.kind == "func":
        return ("func", etype.params, etype.results)
    return (etype.kind, etype.elem, etype.valtype)


class Forwarders:
    """Import forwarders: one C function per imported (module, field) that
    is not spectest's, dispatching on the binding the importer was
    instantiated with to the export of the module registered under that
    name at that time."""

    def __init__(self):
        self.fields = {}  # (module, field) -> [ExternType, {target cname}]

    def add(self, module, field, etype, target_cname):
        """Records a use; False when (module, field) was already used with
        a different type (the C symbol can have only one signature)."""
        entry = self.fields.setdefault((module, field), [etype, set()])
        if c_signature(entry[0]) != c_signature(etype):
            return False
        entry[1].add(target_cname)
        return True

    def modules(self):
        return sorted({module for module, _ in self.fields})

    def write(self, out, registered):
        """Appends the binding structs of the imported and `registered`
        module names, then the forwarders."""
        for module in sorted(set(self.modules()) | set(registered)):
            out.append(BINDING_STRUCT % (mangle(module), mangle(module)))
        for (module, field), (etype, _) in sorted(self.fields.items()):
            out.append(self._forwarder(module, field, etype))

    def multi_results(self):
        """Result lists of more than one value the forwarders return."""
        return [etype.results for etype, _ in self.fields.values()
                if etype.kind == "func" and len(etype.results) > 1]

    @staticmethod
    def _forwarder(module, field, etype):
        """The import's C function: finds the export of the module the
        binding names and calls it with that module's instance."""
        symbol = import_symbol(module, field)
        binding = "struct Z_%s_instance_t *binding" % mangle(module)
        if etype.kind == "func":
            ret = result_c_type(etype.results)
            fn_type = function_pointer_type(etype.results, etype.params)
            params = "".join(", %s a%d" % (C_TYPES[t], i)
                             for i, t in enumerate(etype.params))
            args = "".join(", a%d" % i for i in range(len(etype.params)))
        else:
            ret, params, args = extern_c_type(etype), "", ""
            fn_type = "%s (*)(void *)" % ret
        call = "((%s)spec_forward(binding->module, %s, %s))(" \
            "binding->module->instance%s)" % (fn_type, c_string(module),
                                              c_string(field), args)
        return "\n".join([
            "%s %s(%s%s) {" % (ret, symbol, binding, params),
            "  binding = binding->self; /* see BINDING_STRUCT */",
            "  %s%s;" % ("" if ret == "void" else "return ", call),
            "}\n"])


def c_argument(vtype, index):
    """C expression converting argument `index` (a struct spec_value in
    run.args) to the parameter type."""
    arg = "a[%d]" % index
    return {"i32": "(u32)%s.bits" % arg, "i64": "%s.bits" % arg,
            "f32": "spec_f32((uint32_t)%s.bits)" % arg,
            "f64": "spec_f64(%s.bits)" % arg,
            "externref": "(wasm_rt_externref_t)%s.ref" % arg,
            "funcref": "wasm_rt_funcref_null_value"}[vtype]


def c_values(values, convert):
    if not values:
        return "NULL"
    return "(const struct spec_value[]){%s}" % ", ".join(
        convert(v) for v in values)


class DriverWriter:
    """Collects the C text of one driver from plan steps. Module
    instantiations and registrations become statements; runs of actions
    become a constant table spec_run_actions() walks, with one caller
    function per distinct export called (this keeps drivers of files with
    thousands of assertions quick to compile)."""

    def __init__(self, modules, forwarders):
        self.modules = modules  # list of plan.ModuleRecord that are compiled
        self.forwarders = forwarders
        self.bodies = []  # static functions
        self.tables = []  # static action tables
        self.main = []    # statements of run_steps()
        self.registrations = []  # (variable, module name)
        self.callers = {}  # (cname, field, kind) -> index
        self.pending = []  # action table rows not yet flushed
        self.multi = {}    # multi-value result C type -> definition

    # -- steps ---------------------------------------------------------

    @staticmethod
    def command(step):
        return "{%du, %du, %s}" % (step["id"], step["line"],
                                   c_string(step["type"]))

    def instantiate(self, step):
        self._flush()
        rec = step["module"]
        body = "instantiate_%s" % rec.cname
        resolver = ["static void *imports_%s(const char *name, void *arg) {"
                    % rec.cname, "  struct driver *d = arg;", "  (void)d;"]
        for name, binding in sorted(rec.bindings.items()):
            resolver.append("  if (strcmp(name, %s) == 0) return %s;"
                            % (c_string(name), binding))
        resolver.append("  return NULL;\n}\n")
        self.bodies.append("\n".join(resolver))
        self.bodies.append(
            "static void %s(void *arg) {\n  struct driver *d = arg;\n"
            "  spec_module_instantiate(&d->%s, imports_%s, d);\n}\n"
            % (body, rec.cname, rec.cname))
        cmd = "&(const struct spec_command)" + self.command(step)
        deps = " && ".join(["d->live_%s" % t for t in rec.dependencies]) \
            or "true"
        sizes = " && ".join(rec.size_checks) or "true"
        expect = step["expect"]  # "ok", "trap" or "unlinkable"
        report = "    spec_report(&d->run.tally, %s, " % cmd
        s = ["  /* line %d: %s */" % (step["line"], step["type"]),
             "  if (!(%s)) {" % deps,
             report + 'false, "a module it imports from is not '
             'instantiated");',
             "  } else if (!(%s)) {" % sizes]
        if expect == "unlinkable":
            s += [report + "true, NULL);", "  } else {",
                  report + 'false, "module links (every import matches)");']
        else:
            s += [report + 'false, "an imported memory or table is smaller '
                  'than the import\'s minimum");', "  } else {",
                  "    d->created_%s = true;" % rec.cname,
                  "    int trap = tarmac_rt_run_protected(%s, d);" % body]
            if expect == "trap":
                s.append("    spec_check_trap(&d->run.tally, %s, trap, %s);"
                         % (cmd, c_string(step["text"])))
            else:
                s += ["    d->live_%s = trap == WASM_RT_TRAP_NONE;"
                      % rec.cname,
                      "    spec_check_return(&d->run.tally, %s, trap, NULL, "
                      "NULL, 0);" % cmd]
        s.append("  }")
        self.main.append("\n".join(s))

    def register(self, step):
        self._flush()
        rec, name, index = step["module"], step["as"], step["index"]
        variable = "reg%d" % index
        self.registrations.append((variable, name))
        self.main.append(
            '  /* line %d: register */\n  d->%s.self = &d->%s;\n'
            '  d->%s.target = "%s";\n  d->%s.module = &d->%s;'
            % (step["line"], variable, variable, variable, rec.cname,
               variable, rec.cname))

    def _caller(self, rec, action, export):
        key = (rec.cname, action["field"], action["type"])
        if key in self.callers:
            return self.callers[key]
        index = self.callers[key] = len(self.callers)
        function = "d->functions[%d]" % index
        instance = "d->%s.instance" % rec.cname
        if action["type"] == "get":
            results = [export.valtype]
            expr = "*((%s *(*)(void *))%s)(%s)" % (C_TYPES[export.valtype],
                                                  function, instance)
        else:
            results = list(export.results)
            if len(results) > 1:
                self.multi[result_c_type(results)] = multi_struct(results)
            expr = "((%s)%s)(%s%s)" % (
                function_pointer_type(results, export.params), function,
                instance, "".join(", " + c_argument(t, i)
                                  for i, t in enumerate(export.params)))
        lines = ["static void call_%d(void *arg) {" % index,
                 "  struct driver *d = arg;",
                 "  const struct spec_value *a = d->run.args;",
                 "  (void)a;"]
        if len(results) == 1:
            lines.append("  d->run.got[0] = spec_got_%s(%s);"
                         % (results[0], expr))
        elif results:
            lines.append("  %s r = %s;" % (result_c_type(results), expr))
            lines += ["  d->run.got[%d] = spec_got_%s(r.%s%d);"
                      % (i, t, MULTI_CODES[t], i)
                      for i, t in enumerate(results)]
        else:
            lines.append("  %s;" % expr)
        self.bodies.append("\n".join(lines) + "\n}\n")
        return index

    def action(self, step):
        caller = self._caller(step["module"], step["action"], step["export"])
        trap = "NULL"
        if step["type"] in ("assert_trap", "assert_exhaustion"):
            trap = c_string(step["text"])
        # assert_return compares values; an action (whose "expected" lists
        # only result types) must just not trap.
        expected = step["expected"] if step["type"] == "assert_return" \
            else []
        self.pending.append("  {%s, %du, %s, %du, %s, %s}," % (
            self.command(step), caller, trap, len(expected),
            c_values(step["action"].get("args", []), c_value),
            c_values(expected, c_expected)))

    def _flush(self):
        if not self.pending:
            return
        name = "actions_%d" % len(self.tables)
        self.tables.append("static const struct spec_action %s[] = {\n%s\n"
                           "};\n" % (name, "\n".join(self.pending)))
        self.main.append("  spec_run_actions(&d->run, d, d->callers, %s, %d);"
                         % (name, len(self.pending)))
        self.pending = []

    # -- output --------------------------------------------------------

    def text(self, memory_limit, engine_cache):
        self._flush()
        out = ['/* Generated by tests/conformance/run_spec.py. */',
               '#include <stdio.h>', '#include <stdlib.h>',
               '#include <string.h>', '#include "runtime/runtime.h"',
               '#include "spec_engine.h"', '#include "spec_harness.h"', "",
               CORE_TYPES]
        for results in self.forwarders.multi_results():
            self.multi[result_c_type(results)] = multi_struct(results)
        out += [self.multi[name] for name in sorted(self.multi)]
        self.forwarders.write(out, [n for _, n in self.registrations])
        out.append("struct driver {\n  struct spec_run run;\n"
                   "  struct Z_spectest_instance_t spectest;\n"
                   "  struct spec_caller callers[%d];\n"
                   "  void (*functions[%d])(void);"
                   % ((max(len(self.callers), 1),) * 2))
        for rec in self.modules:
            out.append("  struct spec_module %s;\n  bool created_%s, live_%s;"
                       % (rec.cname, rec.cname, rec.cname))
        for variable, name in self.registrations:
            out.append("  struct Z_%s_instance_t %s;" % (mangle(name),
                                                        variable))
        out.append("};\n")
        out += self.bodies
        out += self.tables
        out.append("static void run_steps(struct driver *d) {")
        for (cname, field, _), index in self.callers.items():
            out.append("  d->callers[%d] = (struct spec_caller){call_%d, "
                       "&d->live_%s};" % (index, index, cname))
            out.append("  d->functions[%d] = spec_export(&d->%s, %s);"
                       % (index, cname, c_string(field)))
        out += self.main
        out.append("}\n")
        out.append("static void free_instances(struct driver *d) {")
        for rec in reversed(self.modules):
            out.append("  if (d->created_%s)\n    d->%s.d->free_instance("
                       "d->%s.instance);" % (rec.cname, rec.cname, rec.cname))
        out.append("}\n")
        out.append("static int load_modules(struct driver *d, "
                   "tarmac_engine_t *engine) {")
        for rec in self.modules:
            out.append("  if (spec_module_load(engine, &d->%s, %s) != 0) "
                       "return -1;" % (rec.cname, c_string(rec.path)))
        out.append("  return 0;\n}\n")
        out.append("static void release_modules(struct driver *d) {")
        for rec in self.modules:
            out.append("  if (d->%s.module) spec_module_release(&d->%s);"
                       % (rec.cname, rec.cname))
        out.append("}\n")
        out.append(MAIN.replace("@CACHE@", c_string(engine_cache))
                   .replace("@LIMIT@", "%dull" % memory_limit))
        return "\n".join(out)


MAIN = """int main(void) {
  tarmac_engine_t *engine = spec_engine_open(@CACHE@);
  struct driver *d = calloc(1, sizeof *d);
  if (!engine || !d) {
    fprintf(stderr, "spec driver: %s\\n", d ? "no engine" : "out of memory");
    free(d);
    tarmac_engine_free(engine);
    return 2;
  }
  tarmac_rt_set_memory_limit(@LIMIT@);
  if (load_modules(d, engine) != 0 ||
      spectest_instantiate(&d->spectest) != 0) {
    release_modules(d);
    tarmac_engine_free(engine);
    free(d);
    return 2;
  }
  run_steps(d);
  free_instances(d);
  spectest_free(&d->spectest);
  release_modules(d);
  tarmac_engine_free(engine);
  printf("TOTAL passed=%u failed=%u\\n", d->run.tally.passed, d->run.tally.failed);
  free(d);
  return 0;
}
"""
