;; wasi_unstable: an old TinyGo-style guest importing fd_write from
;; wasi_unstable (WASI snapshot 0) rather than wasi_snapshot_preview1. Every
;; operation writes "hello from wasi_unstable\n" to stdout (which the host
;; logs) and answers the errno and byte count fd_write reported, "0 25".
(module
  (import "wasi_unstable" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello from wasi_unstable\n")
  ;; iovec {buf = 0, len = 25} at 64; nwritten at 72
  (data (i32.const 64) "\00\00\00\00\19\00\00\00")

  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32) (result i32)
    (local $errno i32) (local $n i32)
    (call $guest_request (i32.const 8192) (i32.const 16384))
    (local.set $errno (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 72)))
    (local.set $n (i32.load (i32.const 72)))
    ;; "E NN" for errno < 10 and a two-digit count
    (i32.store8 (i32.const 128) (i32.add (i32.const 48) (local.get $errno)))
    (i32.store8 (i32.const 129) (i32.const 32))
    (i32.store8 (i32.const 130) (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
    (i32.store8 (i32.const 131) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
    (call $guest_response (i32.const 128) (i32.const 4))
    (i32.const 1)))
