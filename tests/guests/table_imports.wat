;; table_imports: host imports called through a table (call_indirect)
;; instead of directly. wasm2c 1.0.32 hands an import called this way a
;; different instance pointer than a direct call does; the host must serve
;; both (before the fix, this guest crashed the host). Every wapc import and
;; WASI fd_write sit in the guest's table and are only called through it.
;;   no payload  __guest_request, __console_log ("table log"), fd_write
;;               ("table log\n" to stdout), __host_call to tarmac/logger/info
;;               ("table log") and to an unknown route, __host_response_len,
;;               __host_response, __host_error_len, __host_error, then answers
;;               "via table:<op>:<host error length>" with __guest_response
;;   "bad"       hands __guest_response a bad pointer: out-of-bounds trap
;;   "err"       fails with __guest_error "via table"
(module
  (import "wapc" "__guest_request" (func $request (param i32 i32)))
  (import "wapc" "__guest_response" (func $respond (param i32 i32)))
  (import "wapc" "__guest_error" (func $error (param i32 i32)))
  (import "wapc" "__host_call"
    (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (import "wapc" "__console_log" (func $log (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (type $ptr_len (func (param i32 i32)))
  (type $ptr (func (param i32)))
  (type $len (func (result i32)))
  (type $write (func (param i32 i32 i32 i32) (result i32)))
  (type $call (func (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table 10 funcref)
  (elem (i32.const 0) $request $respond $error $host_call $host_response_len
                      $host_response $host_error_len $host_error $log $fd_write)
  (data (i32.const 0) "via table:")
  (data (i32.const 16) "table log\n")
  (data (i32.const 32) "\10\00\00\00\0a\00\00\00") ;; iovec {16, 10}
  (data (i32.const 64) "tarmac")
  (data (i32.const 72) "logger")
  (data (i32.const 80) "info")
  (data (i32.const 88) "nowhere")
  ;; request op at 4096, payload at 8192, host replies at 12288,
  ;; the answer is built from 0 on: "via table:" op ":" digit
  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32)
        (result i32)
    (local $err_len i32) (local $end i32)
    (call_indirect (type $ptr_len) (i32.const 4096) (i32.const 8192)
      (i32.const 0))
    (if (i32.eq (local.get $payload_len) (i32.const 3))
      (then
        (if (i32.eq (i32.load8_u (i32.const 8192)) (i32.const 98)) ;; 'b'
          (then
            (call_indirect (type $ptr_len) (i32.const -16) (i32.const 64)
              (i32.const 1))
            (return (i32.const 1))))
        (call_indirect (type $ptr_len) (i32.const 0) (i32.const 9)
          (i32.const 2))
        (return (i32.const 0))))
    (call_indirect (type $ptr_len) (i32.const 16) (i32.const 9) (i32.const 8))
    (drop (call_indirect (type $write)
      (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 48)
      (i32.const 9)))
    ;; tarmac/logger/info "table log": succeeds with an empty reply
    (if (i32.eqz (call_indirect (type $call)
          (i32.const 64) (i32.const 6) (i32.const 72) (i32.const 6)
          (i32.const 80) (i32.const 4) (i32.const 16) (i32.const 9)
          (i32.const 3)))
      (then (unreachable)))
    (call_indirect (type $ptr) (i32.const 12288) (i32.const 5))
    (if (call_indirect (type $len) (i32.const 4)) (then (unreachable)))
    ;; nowhere/nowhere/nowhere: fails with an error text
    (if (call_indirect (type $call)
          (i32.const 88) (i32.const 7) (i32.const 88) (i32.const 7)
          (i32.const 88) (i32.const 7) (i32.const 0) (i32.const 0)
          (i32.const 3))
      (then (unreachable)))
    (local.set $err_len (call_indirect (type $len) (i32.const 6)))
    (call_indirect (type $ptr) (i32.const 12288) (i32.const 7))
    ;; answer "via table:<op>:<1 if the error text starts with 'n'>"
    (memory.copy (i32.const 10) (i32.const 4096) (local.get $op_len))
    (local.set $end (i32.add (i32.const 10) (local.get $op_len)))
    (i32.store8 (local.get $end) (i32.const 58))
    (i32.store8 (i32.add (local.get $end) (i32.const 1))
      (i32.add (i32.const 48)
        (i32.and (i32.gt_u (local.get $err_len) (i32.const 0))
                 (i32.eq (i32.load8_u (i32.const 12288)) (i32.const 110)))))
    (call_indirect (type $ptr_len) (i32.const 0)
      (i32.add (local.get $end) (i32.const 2)) (i32.const 1))
    (i32.const 1)))
