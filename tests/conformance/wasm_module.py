"""wasm_module: reads the interface of a WebAssembly binary module (its
function types, imports and exports with their types) so the conformance
runner can resolve and type-check imports between spec-test modules before
it links their wasm2c translations together.

Only the sections that describe the interface are decoded (type, import,
function, table, memory, global, export); code and data are skipped."""

from dataclasses import dataclass, field

VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64",
            0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class WasmFormatError(Exception):
    """The binary is not a module this reader understands."""


@dataclass(frozen=True)
class Limits:
    minimum: int
    maximum: int | None  # None: no maximum declared


@dataclass(frozen=True)
class ExternType:
    """Type of an import or export. kind is one of KINDS' values.
    func: params/results; table: elem + limits; memory: limits;
    global: valtype + mutable."""
    kind: str
    params: tuple = ()
    results: tuple = ()
    elem: str | None = None
    limits: Limits | None = None
    valtype: str | None = None
    mutable: bool = False

    def describe(self):
        if self.kind == "func":
            return "func (%s) -> (%s)" % (" ".join(self.params),
                                          " ".join(self.results))
        if self.kind == "global":
            return "global %s%s" % ("mut " if self.mutable else "",
                                    self.valtype)
        lim = self.limits
        text = "%s %d..%s" % (self.kind, lim.minimum,
                              "" if lim.maximum is None else lim.maximum)
        return text + (" " + self.elem if self.elem else "")


@dataclass
class Import:
    module: str
    name: str
    type: ExternType


@dataclass
class ModuleInterface:
    imports: list = field(default_factory=list)
    exports: dict = field(default_factory=dict)  # name -> ExternType

    def uses_v128(self):
        types = list(self.exports.values()) + [i.type for i in self.imports]
        return any("v128" in t.params + t.results + (t.valtype,)
                   for t in types)


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def byte(self):
        if self.pos >= len(self.data):
            raise WasmFormatError("unexpected end of module")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uleb(self):
        result, shift = 0, 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def name(self):
        length = self.uleb()
        raw = self.data[self.pos:self.pos + length]
        if len(raw) != length:
            raise WasmFormatError("name runs past the end of the module")
        self.pos += length
        return raw.decode("utf-8")

    def valtype(self):
        code = self.byte()
        if code not in VALTYPES:
            raise WasmFormatError("unknown value type 0x%02x" % code)
        return VALTYPES[code]

    def limits(self):
        flags = self.uleb()
        if flags not in (0, 1):
            raise WasmFormatError("unsupported limits flags %d" % flags)
        minimum = self.uleb()
        return Limits(minimum, self.uleb() if flags == 1 else None)

    def vector(self, read_item):
        return [read_item() for _ in range(self.uleb())]


def _read_functype(r):
    if r.byte() != 0x60:
        raise WasmFormatError("type entry is not a function type")
    return ExternType("func", tuple(r.vector(r.valtype)),
                      tuple(r.vector(r.valtype)))


def _read_table(r):
    elem = r.valtype()
    return ExternType("table", elem=elem, limits=r.limits())


def _read_global_type(r):
    valtype = r.valtype()
    return ExternType("global", valtype=valtype, mutable=r.byte() == 1)


# Immediate sizes of the instructions allowed in constant expressions:
# "leb" for one LEB128 number, an int for that many raw bytes.
CONST_IMMEDIATES = {0x41: "leb", 0x42: "leb", 0x43: 4, 0x44: 8, 0x23: "leb",
                    0xD0: 1, 0xD2: "leb"}
V128_CONST = (0xFD, 0x0C)


def _skip_const_expr(r):
    while True:
        opcode = r.byte()
        if opcode == 0x0B:
            return
        if opcode == V128_CONST[0]:
            if r.uleb() != V128_CONST[1]:
                raise WasmFormatError("unsupported constant instruction")
            r.pos += 16
        elif opcode not in CONST_IMMEDIATES:
            raise WasmFormatError("unsupported constant instruction 0x%02x"
                                  % opcode)
        elif CONST_IMMEDIATES[opcode] == "leb":
            r.uleb()  # signed or unsigned: the same bytes to skip
        else:
            r.pos += CONST_IMMEDIATES[opcode]


class _Spaces:
    """The module's index spaces while its sections are read."""

    def __init__(self):
        self.types = []
        self.funcs, self.tables, self.memories, self.globals = [], [], [], []

    def space(self, kind):
        return {"func": self.funcs, "table": self.tables,
                "memory": self.memories, "global": self.globals}[kind]


def _read_import(r, spaces):
    module, name = r.name(), r.name()
    kind = KINDS.get(r.byte())
    if kind == "func":
        type_index = r.uleb()
        if type_index >= len(spaces.types):
            raise WasmFormatError("import uses unknown type %d" % type_index)
        etype = spaces.types[type_index]
    elif kind == "table":
        etype = _read_table(r)
    elif kind == "memory":
        etype = ExternType("memory", limits=r.limits())
    elif kind == "global":
        etype = _read_global_type(r)
    else:
        raise WasmFormatError("unsupported import kind")
    spaces.space(kind).append(etype)
    return Import(module, name, etype)


def _read_export(r, spaces):
    name = r.name()
    kind = KINDS.get(r.byte())
    index = r.uleb()
    if kind not in ("func", "table", "memory", "global"):
        raise WasmFormatError("unsupported export kind")
    space = spaces.space(kind)
    if index >= len(space):
        raise WasmFormatError("export %r: %s index %d out of range"
                              % (name, kind, index))
    return name, space[index]


def _read_section(r, section_id, end, spaces, interface):
    if section_id == 1:
        spaces.types = r.vector(lambda: _read_functype(r))
    elif section_id == 2:
        interface.imports = r.vector(lambda: _read_import(r, spaces))
    elif section_id == 3:
        for type_index in r.vector(r.uleb):
            if type_index >= len(spaces.types):
                raise WasmFormatError("function uses unknown type")
            spaces.funcs.append(spaces.types[type_index])
    elif section_id == 4:
        spaces.tables += r.vector(lambda: _read_table(r))
    elif section_id == 5:
        spaces.memories += [ExternType("memory", limits=lim)
                            for lim in r.vector(r.limits)]
    elif section_id == 6:
        for _ in range(r.uleb()):
            spaces.globals.append(_read_global_type(r))
            _skip_const_expr(r)
    elif section_id == 7:
        interface.exports = dict(r.vector(lambda: _read_export(r, spaces)))
    r.pos = end


def read_interface(data):
    """Returns the ModuleInterface of the binary module `data` (bytes)."""
    if data[:8] != b"\0asm\1\0\0\0":
        raise WasmFormatError("not a version-1 wasm binary")
    r = _Reader(data)
    r.pos = 8
    spaces, interface = _Spaces(), ModuleInterface()
    while r.pos < len(data):
        section_id = r.byte()
        size = r.uleb()
        end = r.pos + size
        if end > len(data):
            raise WasmFormatError("section runs past the end of the module")
        _read_section(r, section_id, end, spaces, interface)
    return interface


def limits_match(imported, exported):
    """Import-matching of limits; `exported` minimum is checked again at run
    time against the current size (memories and tables grow)."""
    if exported.minimum < imported.minimum:
        return False
    if imported.maximum is None:
        return True
    return (exported.maximum is not None
            and exported.maximum <= imported.maximum)


def extern_type_matches(imported, exported):
    """True when an export of type `exported` satisfies an import of type
    `imported` (WebAssembly 2.0 import matching, minimum sizes excepted)."""
    if imported.kind != exported.kind:
        return False
    if imported.kind == "func":
        return (imported.params, imported.results) == (exported.params,
                                                       exported.results)
    if imported.kind == "global":
        return (imported.valtype, imported.mutable) == (exported.valtype,
                                                        exported.mutable)
    if imported.kind == "table" and imported.elem != exported.elem:
        return False
    return limits_match(Limits(0, imported.limits.maximum), exported.limits)
