;; funcref_global: a defined global holding a function reference. A
;; snapshot cannot relocate it, so the engine refuses to snapshot this
;; module (and the pool then starts every instance afresh).
(module
  (import "wapc" "__guest_response" (func $respond (param i32 i32)))
  (memory (export "memory") 1)
  (global $f funcref (ref.func $call))
  (elem declare func $call)
  (func $call (export "__guest_call") (param i32 i32) (result i32)
    (i32.const 1))
)
