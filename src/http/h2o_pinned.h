/* http/h2o_pinned: the one way src/http includes h2o. The glue relies on
 * h2o 2.2 internals (listed in docs/architecture.md, "h2o internals we rely
 * on": context and connection lists, thread-local recycle lists, the HTTP/2
 * graceful-shutdown timer, request pool disposal order, socket fields), so
 * any other major or minor version is refused at compile time, not left to
 * misbehave at run time. CMakeLists.txt checks the same at configure time. */
#ifndef TARMAC_HTTP_H2O_PINNED_H
#define TARMAC_HTTP_H2O_PINNED_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <h2o/version.h>

#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "src/http needs h2o 2.2.x (it depends on h2o 2.2 internals; see docs/architecture.md)"
#endif

#endif
