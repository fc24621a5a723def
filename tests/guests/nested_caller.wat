;; nested_caller: a waPC guest for nested invocations (a host callback that
;; invokes another instance). The operation's first byte picks what to do:
;;   c<rest>  host_call("tarmac", "function", <rest>, payload). On success
;;            answers "<host response>|<op>|<payload>", the op and payload
;;            read again with __guest_request AFTER the host call (so a
;;            nested call that clobbered them shows); on failure fails with
;;            the host's error text (read with __host_error_len/__host_error,
;;            a safe point: a passed deadline traps there)
;;   d<rest>  hostile: recurses without bound, making the host call of
;;            c<rest> (result ignored) at every level, so host calls and
;;            nested calls are made ever deeper into the native stack
;;   e        echo the payload
;;   u        unreachable
;;   o        out-of-bounds load
;;   r        unbounded recursion (stack exhaustion)
;;   s        spins forever (a deadline stops it)
;;   g        memory.grow by 64 pages (4 MiB): answers "grown", or fails
;;            with "grow failed"
;; Layout: "tarmac" at 0, "function" at 16, "|" at 32, "grow failed" at 48,
;; "grown" at 64; operation at 4096; payload at 65536; replies built at
;; 131072; the request read again at 196608 (payload at 262144).
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call"
    (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (memory (export "memory") 5)

  (data (i32.const 0) "tarmac")
  (data (i32.const 16) "function")
  (data (i32.const 48) "grow failed")
  (data (i32.const 64) "grown")

  (func $recurse (param $n i32) (result i32)
    (i32.store (i32.const 2048) (local.get $n))
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1)))
             (i32.load (i32.const 2048))))

  ;; Appends "|<op>|<payload>" (read again from the host) at $at; returns
  ;; the end.
  (func $append_request (param $at i32) (param $op_len i32)
                        (param $payload_len i32) (result i32)
    (call $guest_request (i32.const 196608) (i32.const 262144))
    (i32.store8 (local.get $at) (i32.const 124))
    (memory.copy (i32.add (local.get $at) (i32.const 1)) (i32.const 196608)
                 (local.get $op_len))
    (local.set $at (i32.add (local.get $at)
                            (i32.add (local.get $op_len) (i32.const 1))))
    (i32.store8 (local.get $at) (i32.const 124))
    (memory.copy (i32.add (local.get $at) (i32.const 1)) (i32.const 262144)
                 (local.get $payload_len))
    (i32.add (local.get $at) (i32.add (local.get $payload_len) (i32.const 1))))

  (func $call (param $op_len i32) (param $payload_len i32) (result i32)
    (local $len i32)
    (if (i32.eqz (call $host_call (i32.const 0) (i32.const 6)
                                  (i32.const 16) (i32.const 8)
                                  (i32.const 4097)
                                  (i32.sub (local.get $op_len) (i32.const 1))
                                  (i32.const 65536) (local.get $payload_len)))
      (then
        (local.set $len (call $host_error_len))
        (call $host_error (i32.const 131072))
        (call $guest_error (i32.const 131072) (local.get $len))
        (return (i32.const 0))))
    (local.set $len (call $host_response_len))
    (call $host_response (i32.const 131072))
    (local.set $len
      (call $append_request (i32.add (i32.const 131072) (local.get $len))
                            (local.get $op_len) (local.get $payload_len)))
    (call $guest_response (i32.const 131072)
                          (i32.sub (local.get $len) (i32.const 131072)))
    (i32.const 1))

  (func $deep (param $op_len i32) (param $payload_len i32) (result i32)
    (drop (call $host_call (i32.const 0) (i32.const 6) (i32.const 16)
                           (i32.const 8) (i32.const 4097)
                           (i32.sub (local.get $op_len) (i32.const 1))
                           (i32.const 65536) (local.get $payload_len)))
    (i32.add (call $deep (local.get $op_len) (local.get $payload_len))
             (i32.const 1)))

  (func $grow (result i32)
    (if (i32.eq (memory.grow (i32.const 64)) (i32.const -1))
      (then (call $guest_error (i32.const 48) (i32.const 11))
            (return (i32.const 0))))
    (call $guest_response (i32.const 64) (i32.const 5))
    (i32.const 1))

  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32)
                                (result i32)
    (local $kind i32)
    (call $guest_request (i32.const 4096) (i32.const 65536))
    (local.set $kind (i32.load8_u (i32.const 4096)))
    (if (i32.eq (local.get $kind) (i32.const 99)) ;; c
      (then (return (call $call (local.get $op_len) (local.get $payload_len)))))
    (if (i32.eq (local.get $kind) (i32.const 100)) ;; d
      (then (return (call $deep (local.get $op_len) (local.get $payload_len)))))
    (if (i32.eq (local.get $kind) (i32.const 101)) ;; e
      (then (call $guest_response (i32.const 65536) (local.get $payload_len))
            (return (i32.const 1))))
    (if (i32.eq (local.get $kind) (i32.const 117)) (then unreachable)) ;; u
    (if (i32.eq (local.get $kind) (i32.const 111)) ;; o
      (then (return (i32.load (i32.const 0x7ffffff0)))))
    (if (i32.eq (local.get $kind) (i32.const 114)) ;; r
      (then (return (call $recurse (i32.const 0)))))
    (if (i32.eq (local.get $kind) (i32.const 115)) ;; s
      (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $kind) (i32.const 103)) ;; g
      (then (return (call $grow))))
    (i32.const 0))
)
