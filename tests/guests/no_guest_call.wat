;; no_guest_call: a valid module that exports memory but no __guest_call.
;; Loading must fail naming __guest_call.
(module
  (memory (export "memory") 1)
  (func (export "guest_call") (param i32 i32) (result i32) (i32.const 1)))
