;; simd: a waPC guest using one v128 instruction. Debian's wasm2c 1.0.32
;; aborts on SIMD code, so Tarmac cannot run it yet; loading it must fail
;; with a message that says so, not a bare exit status.
(module
  (memory (export "memory") 1)
  (func (export "__guest_call") (param i32 i32) (result i32)
    (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4))))
