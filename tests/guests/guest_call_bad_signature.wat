;; guest_call_bad_signature: exports __guest_call as (i32) -> i32. Loading
;; must fail naming __guest_call.
(module
  (memory (export "memory") 1)
  (func (export "__guest_call") (param i32) (result i32) (i32.const 1)))
