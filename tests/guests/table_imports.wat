;; table_imports: host imports called through a table (call_indirect) instead
;; of directly. wasm2c 1.0.32 hands an import called this way a different
;; instance pointer than a direct call does; the host must serve both (before
;; the fix, this guest crashed the host). The guest puts wapc and WASI imports
;; in its table, logs through __console_log and WASI fd_write(stdout), asks
;; the host for __host_response_len, and answers "via table" with
;; __guest_response, all indirectly; then traps with a bad pointer handed to
;; an import through the table.
(module
  (import "wapc" "__guest_response" (func $respond (param i32 i32)))
  (import "wapc" "__console_log" (func $log (param i32 i32)))
  (import "wapc" "__host_response_len" (func $host_len (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (type $ptr_len (func (param i32 i32)))
  (type $len (func (result i32)))
  (type $write (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table 4 funcref)
  (elem (i32.const 0) $respond $log $host_len $fd_write)
  (data (i32.const 0) "via table")
  (data (i32.const 16) "table log\n")
  ;; iovec at 32: {ptr 16, len 10}
  (data (i32.const 32) "\10\00\00\00\0a\00\00\00")
  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32)
        (result i32)
    ;; payload length 0: the happy path; anything else: a bad pointer
    (if (local.get $payload_len)
      (then
        (call_indirect (type $ptr_len)
          (i32.const -16) (i32.const 64) (i32.const 0))
        (return (i32.const 1))))
    (call_indirect (type $ptr_len) (i32.const 16) (i32.const 9) (i32.const 1))
    (drop (call_indirect (type $write)
      (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 48) (i32.const 3)))
    (drop (call_indirect (type $len) (i32.const 2)))
    (call_indirect (type $ptr_len) (i32.const 0) (i32.const 9) (i32.const 0))
    (i32.const 1)))
