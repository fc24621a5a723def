;; import_unknown: imports foo.bar, which no host offers. Loading must fail
;; with an error naming `foo.bar`.
(module
  (import "foo" "bar" (func $bar))
  (memory (export "memory") 1)
  (func (export "__guest_call") (param i32 i32) (result i32)
    (call $bar)
    (i32.const 1)))
