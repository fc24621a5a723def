;; big_memory: 128 MiB of initial memory, almost all zero, and one global.
;; A snapshot of it must cost its few non-zero pages, not 128 MiB.
;; Any operation answers "big" (3 bytes from memory).
(module
  (import "wapc" "__guest_request" (func $request (param i32 i32)))
  (import "wapc" "__guest_response" (func $respond (param i32 i32)))
  (memory (export "memory") 2048)
  (data (i32.const 100000000) "big")
  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32)
        (result i32)
    (call $respond (i32.const 100000000) (i32.const 3))
    (i32.const 1))
)
