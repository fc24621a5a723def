"""plan: turns one .wast file's wast2json command list into
 - the modules to translate and link (ModuleRecord),
 - the steps its C driver runs (handed to c_driver), and
 - the outcomes decided without running anything (Outcome): validation
   assertions checked against wasm2c, text-format modules, imports that
   cannot link, and commands that depend on a module wasm2c cannot translate.

Imports are resolved the way an embedder links: "spectest" is the host
module of spec_harness.c; any other import module name must have been
registered (`register` command) before the importing module appears."""

from dataclasses import dataclass, field

from c_driver import import_symbol
from wasm_module import (ExternType, Limits, WasmFormatError,
                         extern_type_matches, read_interface)

SPECTEST = {
    "print": ExternType("func"),
    "print_i32": ExternType("func", ("i32",)),
    "print_i64": ExternType("func", ("i64",)),
    "print_f32": ExternType("func", ("f32",)),
    "print_f64": ExternType("func", ("f64",)),
    "print_i32_f32": ExternType("func", ("i32", "f32")),
    "print_f64_f64": ExternType("func", ("f64", "f64")),
    "global_i32": ExternType("global", valtype="i32"),
    "global_i64": ExternType("global", valtype="i64"),
    "global_f32": ExternType("global", valtype="f32"),
    "global_f64": ExternType("global", valtype="f64"),
    "table": ExternType("table", elem="funcref", limits=Limits(10, 20)),
    "memory": ExternType("memory", limits=Limits(1, 2)),
}

PASS, FAIL, SKIP = "pass", "fail", "skip"
MAX_RESULTS = 32  # SPEC_MAX_VALUES in spec_harness.h
ACTIONS = ("assert_return", "assert_trap", "assert_exhaustion", "action")


@dataclass
class Outcome:
    status: str  # PASS, FAIL or SKIP
    why: str = ""


@dataclass
class ModuleRecord:
    cname: str
    line: int
    path: str
    interface: object = None
    status: str = PASS      # FAIL/SKIP: cannot be used (see why)
    why: str = ""
    bindings: dict = field(default_factory=dict)  # import module -> C expr
    dependencies: list = field(default_factory=list)
    size_checks: list = field(default_factory=list)
    link_error: str = ""    # static import mismatch ("unknown import" ...)


class LinkError(Exception):
    """The spec's link failure: "unknown import"/"incompatible import type"."""


class Unusable(Exception):
    """An import comes from a module that could not be used itself."""

    def __init__(self, status, why):
        super().__init__(why)
        self.status = status


class Planner:
    """Plans one .wast file. `translator.translate(record)` has the module
    compiled by the engine, setting status/why when that fails."""

    def __init__(self, translator, forwarders):
        self.translator = translator
        self.forwarders = forwarders
        self.modules = []        # ModuleRecord, in command order
        self.linked = []         # records the driver includes
        self.steps = []
        self.outcomes = {}       # command id -> Outcome
        self.current = None
        self.named = {}
        self.registry = {}       # name -> (ModuleRecord, registration index)
        self.registrations = 0

    # -- modules ---------------------------------------------------------

    def _new_module(self, command, directory):
        rec = ModuleRecord("mod%d" % len(self.modules), command["line"],
                           "%s/%s" % (directory, command["filename"]))
        self.modules.append(rec)
        return rec

    def _resolve(self, rec, imp):
        """Binding argument, dependency and size check for one import;
        raises LinkError with the spec's message on a mismatch."""
        if imp.module == "spectest":
            exported = SPECTEST.get(imp.name)
            binding, owner = "&d->spectest", None
        else:
            if imp.module not in self.registry:
                raise LinkError("unknown import")
            owner, index = self.registry[imp.module]
            if owner.status != PASS:
                raise Unusable(owner.status, "imports from the module at "
                               "line %d: %s" % (owner.line, owner.why))
            exported = owner.interface.exports.get(imp.name)
            binding = "&d->reg%d" % index
        if exported is None:
            raise LinkError("unknown import")
        if not extern_type_matches(imp.type, exported):
            raise LinkError("incompatible import type")
        return binding, owner, exported

    def _link(self, rec):
        """Resolves every import; returns {import module name: binding}."""
        by_module = {}
        for imp in rec.interface.imports:
            binding, owner, exported = self._resolve(rec, imp)
            by_module[imp.module] = binding
            if owner is not None:
                if owner.cname not in rec.dependencies:
                    rec.dependencies.append(owner.cname)
                if not self.forwarders.add(imp.module, imp.name, imp.type,
                                           owner.cname):
                    raise Unusable(FAIL, "runner limitation: %s.%s is "
                                   "imported with two different C signatures"
                                   % (imp.module, imp.name))
            if imp.type.kind in ("memory", "table"):
                accessor = import_symbol(imp.module, imp.name)
                size = "pages" if imp.type.kind == "memory" else "size"
                rec.size_checks.append("spec_size_fits(%s(%s)->%s, %du)" % (
                    accessor, binding, size, imp.type.limits.minimum))
        return by_module

    def _prepare(self, command, directory):
        """Reads, links and translates the module of `command`; returns its
        record (status FAIL/SKIP when it cannot be used, link_error set when
        its imports do not match)."""
        rec = self._new_module(command, directory)
        try:
            with open(rec.path, "rb") as wasm:
                rec.interface = read_interface(wasm.read())
            bindings = self._link(rec)
        except WasmFormatError as err:
            rec.status, rec.why = FAIL, "cannot read module: %s" % err
            return rec
        except LinkError as err:
            rec.link_error = str(err)
            return rec
        except Unusable as err:
            rec.status, rec.why = err.status, str(err)
            return rec
        self.translator.translate(rec)
        if rec.status != PASS:
            return rec
        rec.bindings = bindings
        self.linked.append(rec)
        return rec

    # -- commands --------------------------------------------------------

    def _step(self, cid, command, kind, **data):
        data.update(id=cid, line=command["line"], type=command["type"],
                    kind=kind)
        self.steps.append(data)

    def _module_command(self, cid, command, directory):
        rec = self._prepare(command, directory)
        self.current = rec
        if "name" in command:
            self.named[command["name"]] = rec
        if rec.status != PASS:
            self.outcomes[cid] = Outcome(rec.status, rec.why)
        elif rec.link_error:
            rec.status, rec.why = FAIL, "does not link: " + rec.link_error
            self.outcomes[cid] = Outcome(FAIL, rec.why)
        else:
            self._step(cid, command, "instantiate", module=rec, expect="ok")

    def _expect_failure_command(self, cid, command, directory):
        if command["type"] == "assert_unlinkable":
            return self._unlinkable_command(cid, command, directory)
        rec = self._prepare(command, directory)
        if rec.status != PASS:
            self.outcomes[cid] = Outcome(rec.status, rec.why)
        elif rec.link_error:
            self.outcomes[cid] = Outcome(FAIL, "does not link: "
                                         + rec.link_error)
        else:
            self._step(cid, command, "instantiate", module=rec,
                       expect="trap", text=command["text"])

    def _unlinkable_command(self, cid, command, directory):
        rec = self._prepare(command, directory)
        if rec.status != PASS:
            self.outcomes[cid] = Outcome(rec.status, rec.why)
        elif rec.link_error:
            self.outcomes[cid] = Outcome(PASS, rec.link_error)
        elif rec.size_checks:
            self._step(cid, command, "instantiate", module=rec,
                       expect="unlinkable")
        else:
            self.outcomes[cid] = Outcome(FAIL, "module links (every import "
                                         "matches)")

    def _register_command(self, cid, command):
        rec = self.named.get(command["name"]) if "name" in command \
            else self.current
        if rec is None:
            self.outcomes[cid] = Outcome(FAIL, "register names no module")
            return
        self.registry[command["as"]] = (rec, self.registrations)
        if rec.status == PASS:
            self._step(cid, command, "register", module=rec,
                       index=self.registrations, **{"as": command["as"]})
        self.registrations += 1

    def _action_command(self, cid, command):
        action = command["action"]
        rec = self.named.get(action["module"]) if "module" in action \
            else self.current
        if rec is None:
            self.outcomes[cid] = Outcome(FAIL, "action names no module")
            return
        if rec.status != PASS:
            why = rec.why if rec.status == SKIP else \
                "module at line %d unusable: %s" % (rec.line, rec.why)
            self.outcomes[cid] = Outcome(rec.status, why)
            return
        export = rec.interface.exports.get(action["field"])
        want = "global" if action["type"] == "get" else "func"
        if export is None or export.kind != want:
            self.outcomes[cid] = Outcome(FAIL, "no %s export %r"
                                         % (want, action["field"]))
            return
        problem = self._action_problem(command, export)
        if problem:
            self.outcomes[cid] = problem
            return
        self._step(cid, command, "action", module=rec, action=action,
                   export=export, expected=command.get("expected", []),
                   text=command.get("text", ""))

    @staticmethod
    def _action_problem(command, export):
        """An Outcome when the action cannot be run as written, else None."""
        action, expected = command["action"], command.get("expected", [])
        args = action.get("args", [])
        values = expected + args
        if any(v["type"] == "v128" for v in values):
            return Outcome(SKIP, "v128 values")
        results = export.results if export.kind == "func" \
            else (export.valtype,)
        if len(results) > MAX_RESULTS:
            return Outcome(FAIL, "runner limitation: more than %d results"
                           % MAX_RESULTS)
        if command["type"] == "assert_return" and \
                [v["type"] for v in expected] != list(results):
            return Outcome(FAIL, "export returns (%s), expected (%s)" % (
                " ".join(results), " ".join(v["type"] for v in expected)))
        if export.kind == "func" and \
                [v["type"] for v in args] != list(export.params):
            return Outcome(FAIL, "export takes (%s), called with (%s)" % (
                " ".join(export.params), " ".join(v["type"] for v in args)))
        if any(v["type"] == "funcref" and v.get("value") != "null"
               for v in args):
            return Outcome(FAIL, "runner limitation: non-null funcref "
                           "argument")
        return None

    def plan(self, commands, directory, check_invalid):
        """Walks the commands. check_invalid(path) -> Outcome judges a
        binary module that must be rejected."""
        for cid, command in enumerate(commands):
            ctype = command["type"]
            if ctype == "module":
                self._module_command(cid, command, directory)
            elif ctype in ("assert_uninstantiable", "assert_unlinkable"):
                self._expect_failure_command(cid, command, directory)
            elif ctype == "register":
                self._register_command(cid, command)
            elif ctype in ACTIONS:
                self._action_command(cid, command)
            elif ctype in ("assert_invalid", "assert_malformed"):
                if command.get("module_type") == "text":
                    self.outcomes[cid] = Outcome(
                        SKIP, "text-format module (Tarmac loads binaries "
                        "only; wast2json keeps it as .wat)")
                else:
                    self.outcomes[cid] = check_invalid(
                        "%s/%s" % (directory, command["filename"]))
            else:
                self.outcomes[cid] = Outcome(FAIL, "runner does not know "
                                             "command " + ctype)
