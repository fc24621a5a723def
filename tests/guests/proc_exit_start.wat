;; proc_exit_start: a TinyGo-style command whose _start ends with WASI
;; proc_exit(0). The host must treat that as a normal return, go on with
;; wapc_init and keep the instance usable: every operation answers
;; "_start wapc_init " when both ran.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "_start ")
  (data (i32.const 32) "wapc_init ")
  (global $ran_start (mut i32) (i32.const 0))
  (global $ran_init (mut i32) (i32.const 0))

  (func (export "_start")
    (global.set $ran_start (i32.const 1))
    (call $proc_exit (i32.const 0))
    unreachable)
  (func (export "wapc_init") (global.set $ran_init (i32.const 1)))

  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32) (result i32)
    (call $guest_request (i32.const 8192) (i32.const 16384))
    ;; "_start " and "wapc_init " are adjacent at 1024 when both ran
    (i32.store (i32.const 1024) (i32.load (i32.const 0)))
    (i32.store (i32.const 1028) (i32.load (i32.const 4)))
    (i64.store (i32.const 1031) (i64.load (i32.const 32)))
    (i32.store16 (i32.const 1039) (i32.load16_u (i32.const 40)))
    (call $guest_response
      (select (i32.const 1024) (i32.const 1031) (global.get $ran_start))
      (i32.add (select (i32.const 7) (i32.const 0) (global.get $ran_start))
               (select (i32.const 10) (i32.const 0) (global.get $ran_init))))
    (i32.const 1)))
