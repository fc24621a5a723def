;; wapc_ops: a hand-written waPC guest whose operations each exercise one
;; thing the host must get right, with no SDK in between:
;;   traps       ok, oob_load, oob_store, unreachable, div_zero, rem_zero,
;;               int_overflow, bad_conversion (NaN to int), trunc_overflow
;;               (1e10 to i32), null_indirect, indirect_mismatch,
;;               indirect_out_of_range, recursion (stack exhaustion)
;;   bad pointers handed to the host: bad_response_ptr, response_len_wrap,
;;               bad_error_ptr, bad_request_ptr, bad_host_call_ptr,
;;               bad_host_error_ptr
;;   imports     abort (env.abort "boom" at x.ts:7:3), exit3 (proc_exit(3))
;;   results     respond (echo), no_response (1, nothing set),
;;               error_return_1 / error_return_0 (__guest_error wins),
;;               return_0 / return_2 (no error: unsuccessful),
;;               respond_then_error; any unknown operation fails with
;;               `Could not find function "<op>"`
;;   memory      grow: payload is a decimal page count N; answers the new
;;               size in pages after touching its last byte, or fails with
;;               "memory.grow failed" (memory starts at 2 pages)
;;   host calls  host_unknown_route (calls nope/nothing/nowhere and answers
;;               the host's error text), host_log (tarmac/logger/info with
;;               the payload; answers "1" or "0"), host_state_replaced
;;               (an unknown route, then host_log; answers the error length
;;               the host still reports)
;; Layout: names in 32-byte NUL-padded slots from 0; scratch words at 2048;
;; operation at 4096; messages built at 32768; payload at 65536 (page 2).
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call"
    (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)

  (type $to_i32 (func (result i32)))
  (type $i32_to_i32 (func (param i32) (result i32)))
  ;; slot 0 holds $answer; slots 1 and 2 are null.
  (table 3 funcref)
  (elem (i32.const 0) $answer)
  (func $answer (type $to_i32) (i32.const 42))

  (data (i32.const 0) "ok")
  (data (i32.const 32) "oob_load")
  (data (i32.const 64) "oob_store")
  (data (i32.const 96) "unreachable")
  (data (i32.const 128) "div_zero")
  (data (i32.const 160) "rem_zero")
  (data (i32.const 192) "int_overflow")
  (data (i32.const 224) "bad_conversion")
  (data (i32.const 256) "trunc_overflow")
  (data (i32.const 288) "null_indirect")
  (data (i32.const 320) "indirect_mismatch")
  (data (i32.const 352) "indirect_out_of_range")
  (data (i32.const 384) "recursion")
  (data (i32.const 416) "bad_response_ptr")
  (data (i32.const 448) "response_len_wrap")
  (data (i32.const 480) "bad_error_ptr")
  (data (i32.const 512) "bad_request_ptr")
  (data (i32.const 544) "bad_host_call_ptr")
  (data (i32.const 576) "bad_host_error_ptr")
  (data (i32.const 608) "abort")
  (data (i32.const 640) "exit3")
  (data (i32.const 672) "respond")
  (data (i32.const 704) "no_response")
  (data (i32.const 736) "error_return_1")
  (data (i32.const 768) "error_return_0")
  (data (i32.const 800) "return_0")
  (data (i32.const 832) "return_2")
  (data (i32.const 864) "respond_then_error")
  (data (i32.const 896) "grow")
  (data (i32.const 928) "host_unknown_route")
  (data (i32.const 960) "host_log")
  (data (i32.const 992) "host_state_replaced")
  ;; texts
  (data (i32.const 1280) "Could not find function \22")
  (data (i32.const 1312) "\22")
  (data (i32.const 1344) "memory.grow failed")
  (data (i32.const 1376) "guest says no")
  (data (i32.const 1408) "nope")
  (data (i32.const 1440) "nothing")
  (data (i32.const 1472) "nowhere")
  (data (i32.const 1504) "tarmac")
  (data (i32.const 1536) "logger")
  (data (i32.const 1568) "info")
  ;; AssemblyScript strings: byte length at ptr-4, then UTF-16LE.
  (data (i32.const 1596) "\08\00\00\00b\00o\00o\00m\00")
  (data (i32.const 1628) "\08\00\00\00x\00.\00t\00s\00")

  (global $op_len (mut i32) (i32.const 0))
  (global $payload_len (mut i32) (i32.const 0))
  (global $result (mut i32) (i32.const 1))

  ;; Length of the NUL-terminated text at $p.
  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $end
      (loop $next
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; Copies $len bytes; returns the end of the destination.
  (func $copy (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (local $i i32)
    (block $end
      (loop $next
        (br_if $end (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (i32.add (local.get $dst) (local.get $i))
                    (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.add (local.get $dst) (local.get $len)))

  ;; Is the requested operation the name at $name?
  (func $op_is (param $name i32) (result i32)
    (local $i i32)
    (if (i32.ne (call $strlen (local.get $name)) (global.get $op_len))
      (then (return (i32.const 0))))
    (block $differ
      (loop $next
        (if (i32.eq (local.get $i) (global.get $op_len)) (then (return (i32.const 1))))
        (br_if $differ
          (i32.ne (i32.load8_u (i32.add (local.get $name) (local.get $i)))
                  (i32.load8_u (i32.add (i32.const 4096) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func $respond_text (param $p i32)
    (call $guest_response (local.get $p) (call $strlen (local.get $p))))
  (func $error_text (param $p i32)
    (call $guest_error (local.get $p) (call $strlen (local.get $p))))

  ;; A zero the native compiler cannot see.
  (func $zero (result i32) (i32.load (i32.const 2052)))

  ;; Never returns: each call needs a new frame before it adds.
  (func $recurse (param $n i32) (result i32)
    (i32.store (i32.const 2056) (local.get $n))
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1)))
             (i32.load (i32.const 2056))))

  ;; The payload as a decimal number.
  (func $payload_number (result i32)
    (local $i i32) (local $n i32)
    (block $end
      (loop $next
        (br_if $end (i32.ge_u (local.get $i) (global.get $payload_len)))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10))
          (i32.sub (i32.load8_u (i32.add (i32.const 65536) (local.get $i)))
                   (i32.const 48))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; Answers $n in decimal.
  (func $respond_number (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 32800))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (call $guest_response (local.get $p) (i32.sub (i32.const 32800) (local.get $p))))

  (func $grow
    (local $old i32) (local $pages i32)
    (local.set $pages (call $payload_number))
    (local.set $old (memory.grow (local.get $pages)))
    (if (i32.eq (local.get $old) (i32.const -1))
      (then (call $error_text (i32.const 1344)) (return)))
    (i32.store8 (i32.sub (i32.mul (i32.add (local.get $old) (local.get $pages))
                                  (i32.const 65536))
                         (i32.const 1))
                (i32.const 1))
    (call $respond_number (i32.add (local.get $old) (local.get $pages))))

  ;; host_call(binding, namespace, operation, payload) with texts.
  (func $call_host (param $b i32) (param $ns i32) (param $op i32) (result i32)
    (call $host_call
      (local.get $b) (call $strlen (local.get $b))
      (local.get $ns) (call $strlen (local.get $ns))
      (local.get $op) (call $strlen (local.get $op))
      (i32.const 65536) (global.get $payload_len)))

  (func $host_unknown_route
    (local $len i32)
    (drop (call $call_host (i32.const 1408) (i32.const 1440) (i32.const 1472)))
    (local.set $len (call $host_error_len))
    (call $host_error (i32.const 32768))
    (call $guest_response (i32.const 32768) (local.get $len)))

  (func $host_log
    (call $respond_number
      (call $call_host (i32.const 1504) (i32.const 1536) (i32.const 1568))))

  (func $unknown_operation
    (local $end i32)
    (local.set $end (call $copy (i32.const 32768) (i32.const 1280) (i32.const 25)))
    (local.set $end (call $copy (local.get $end) (i32.const 4096) (global.get $op_len)))
    (local.set $end (call $copy (local.get $end) (i32.const 1312) (i32.const 1)))
    (call $guest_error (i32.const 32768) (i32.sub (local.get $end) (i32.const 32768)))
    (global.set $result (i32.const 0)))

  ;; Runs the operation; what traps returns what it computed.
  (func $run (result i32)
    (if (call $op_is (i32.const 0)) (then (call $respond_text (i32.const 0)) (return (i32.const 0))))
    (if (call $op_is (i32.const 32)) (then (return (i32.load (i32.const 131072)))))
    (if (call $op_is (i32.const 64))
      (then (i32.store (i32.const 131070) (i32.const 7)) (return (i32.const 0))))
    (if (call $op_is (i32.const 96)) (then unreachable))
    (if (call $op_is (i32.const 128))
      (then (return (i32.div_s (i32.const 1) (call $zero)))))
    (if (call $op_is (i32.const 160))
      (then (return (i32.wrap_i64 (i64.rem_u (i64.const 1) (i64.extend_i32_u (call $zero)))))))
    (if (call $op_is (i32.const 192))
      (then (return (i32.div_s (i32.const 0x80000000) (i32.sub (call $zero) (i32.const 1))))))
    (if (call $op_is (i32.const 224))
      (then (return (i32.trunc_f32_s (f32.div (f32.convert_i32_s (call $zero))
                                              (f32.convert_i32_s (call $zero)))))))
    (if (call $op_is (i32.const 256))
      (then (return (i32.trunc_f64_s (f64.add (f64.const 1e10)
                                              (f64.convert_i32_s (call $zero)))))))
    (if (call $op_is (i32.const 288))
      (then (return (call_indirect (type $to_i32) (i32.add (call $zero) (i32.const 1))))))
    (if (call $op_is (i32.const 320))
      (then (return (call_indirect (type $i32_to_i32) (i32.const 5) (call $zero)))))
    (if (call $op_is (i32.const 352))
      (then (return (call_indirect (type $to_i32) (i32.add (call $zero) (i32.const 100))))))
    (if (call $op_is (i32.const 384)) (then (return (call $recurse (i32.const 0)))))
    (if (call $op_is (i32.const 416))
      (then (call $guest_response (i32.const 0xfffffff0) (i32.const 100)) (return (i32.const 0))))
    (if (call $op_is (i32.const 448))
      (then (call $guest_response (i32.const 16) (i32.const 0xffffffff)) (return (i32.const 0))))
    (if (call $op_is (i32.const 480))
      (then (call $guest_error (i32.const 131072) (i32.const 1)) (return (i32.const 0))))
    (if (call $op_is (i32.const 512))
      (then (call $guest_request (i32.const 0x7fffffff) (i32.const 0x7fffffff))
            (return (i32.const 0))))
    (if (call $op_is (i32.const 544))
      (then (return (call $host_call (i32.const 0xffff0000) (i32.const 10)
                      (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 2)
                      (i32.const 0) (i32.const 0)))))
    (if (call $op_is (i32.const 576))
      (then (drop (call $call_host (i32.const 1408) (i32.const 1440) (i32.const 1472)))
            (call $host_error (i32.const 0xfffffff0))
            (return (i32.const 0))))
    (if (call $op_is (i32.const 608))
      (then (call $abort (i32.const 1600) (i32.const 1632) (i32.const 7) (i32.const 3))
            (return (i32.const 0))))
    (if (call $op_is (i32.const 640)) (then (call $proc_exit (i32.const 3)) (return (i32.const 0))))
    (if (call $op_is (i32.const 672))
      (then (call $guest_response (i32.const 65536) (global.get $payload_len))
            (return (i32.const 0))))
    (if (call $op_is (i32.const 704)) (then (return (i32.const 0))))
    (if (call $op_is (i32.const 736))
      (then (call $error_text (i32.const 1376)) (return (i32.const 0))))
    (if (call $op_is (i32.const 768))
      (then (call $error_text (i32.const 1376)) (global.set $result (i32.const 0))
            (return (i32.const 0))))
    (if (call $op_is (i32.const 800)) (then (global.set $result (i32.const 0)) (return (i32.const 0))))
    (if (call $op_is (i32.const 832)) (then (global.set $result (i32.const 2)) (return (i32.const 0))))
    (if (call $op_is (i32.const 864))
      (then (call $respond_text (i32.const 864)) (call $error_text (i32.const 1376))
            (return (i32.const 0))))
    (if (call $op_is (i32.const 896)) (then (call $grow) (return (i32.const 0))))
    (if (call $op_is (i32.const 928)) (then (call $host_unknown_route) (return (i32.const 0))))
    (if (call $op_is (i32.const 960)) (then (call $host_log) (return (i32.const 0))))
    (if (call $op_is (i32.const 992))
      (then (drop (call $call_host (i32.const 1408) (i32.const 1440) (i32.const 1472)))
            (drop (call $call_host (i32.const 1504) (i32.const 1536) (i32.const 1568)))
            (call $respond_number (call $host_error_len))
            (return (i32.const 0))))
    (call $unknown_operation)
    (i32.const 0))

  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32) (result i32)
    (global.set $op_len (local.get $op_len))
    (global.set $payload_len (local.get $payload_len))
    (global.set $result (i32.const 1))
    (call $guest_request (i32.const 4096) (i32.const 65536))
    (i32.store (i32.const 2048) (call $run))
    (global.get $result)))
