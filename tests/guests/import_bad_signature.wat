;; import_bad_signature: imports wapc.__guest_request as (i32) -> i32 instead
;; of (i32, i32) -> (). Loading must fail naming wapc.__guest_request.
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "__guest_call") (param i32 i32) (result i32)
    (call $guest_request (i32.const 0))))
