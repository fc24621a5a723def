;; snapshot_state: state a fresh instance must not carry from one request to
;; the next, one operation per kind of state (first byte of the operation).
;; Answers are 4 bytes, a little-endian i32, except for "s".
;;   s  store: answers what the previous "s" stored, then stores the payload
;;      (memory at 8192, its length in a global)
;;   c  count: increments a global and answers it, read through the table
;;      (a funcref whose instance pointer a snapshot must relocate)
;;   l  log through the table (an import called indirectly: the import
;;      module's instance field must be relocated); answers 1
;;   g  grow memory by 2 pages and write their last byte; answers the size
;;   h  read a byte of page 2 (exists only after "g"); answers it
;;   p  answers the memory size in pages
;;   t  grow the table by 5 and null slot 0; answers the table size
;;   z  answers the table size
;;   d  data.drop the passive segment; answers 1
;;   i  memory.init from the passive segment (traps once dropped); answers
;;      the first byte copied
;;   w  overwrites the active data segment's first byte; answers 1
;;   m  answers the active data segment's first byte
;; Layout: log text at 16, answer word at 64, operation at 128, payload at
;; 4096, stored bytes at 8192, memory.init target at 2048.
(module
  (import "wapc" "__guest_request" (func $request (param i32 i32)))
  (import "wapc" "__guest_response" (func $respond (param i32 i32)))
  (import "wapc" "__console_log" (func $log (param i32 i32)))
  (type $get (func (result i32)))
  (type $ptr_len (func (param i32 i32)))
  (memory (export "memory") 1)
  (table $t 2 funcref)
  (global $counter (mut i32) (i32.const 0))
  (global $stored (mut i32) (i32.const 0))
  (elem (i32.const 0) $get_counter $log)
  (data (i32.const 16) "snapshot log")
  (data $passive "passive")
  (func $get_counter (result i32) (global.get $counter))
  (func $answer (param $v i32) (result i32)
    (i32.store (i32.const 64) (local.get $v))
    (call $respond (i32.const 64) (i32.const 4))
    (i32.const 1))
  (func $store (param $len i32) (result i32)
    (call $respond (i32.const 8192) (global.get $stored))
    (memory.copy (i32.const 8192) (i32.const 4096) (local.get $len))
    (global.set $stored (local.get $len))
    (i32.const 1))
  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32)
        (result i32)
    (local $op i32)
    (call $request (i32.const 128) (i32.const 4096))
    (local.set $op (i32.load8_u (i32.const 128)))
    (if (i32.eq (local.get $op) (i32.const 115)) ;; s
      (then (return (call $store (local.get $payload_len)))))
    (if (i32.eq (local.get $op) (i32.const 99)) ;; c
      (then
        (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
        (return (call $answer (call_indirect (type $get) (i32.const 0))))))
    (if (i32.eq (local.get $op) (i32.const 108)) ;; l
      (then
        (call_indirect (type $ptr_len) (i32.const 16) (i32.const 12)
          (i32.const 1))
        (return (call $answer (i32.const 1)))))
    (if (i32.eq (local.get $op) (i32.const 103)) ;; g
      (then
        (drop (memory.grow (i32.const 2)))
        (i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536))
                             (i32.const 1)) (i32.const 9))
        (return (call $answer (memory.size)))))
    (if (i32.eq (local.get $op) (i32.const 104)) ;; h
      (then (return (call $answer (i32.load8_u (i32.const 65536))))))
    (if (i32.eq (local.get $op) (i32.const 112)) ;; p
      (then (return (call $answer (memory.size)))))
    (if (i32.eq (local.get $op) (i32.const 116)) ;; t
      (then
        (drop (table.grow $t (ref.null func) (i32.const 5)))
        (table.set $t (i32.const 0) (ref.null func))
        (return (call $answer (table.size $t)))))
    (if (i32.eq (local.get $op) (i32.const 122)) ;; z
      (then (return (call $answer (table.size $t)))))
    (if (i32.eq (local.get $op) (i32.const 100)) ;; d
      (then (data.drop $passive) (return (call $answer (i32.const 1)))))
    (if (i32.eq (local.get $op) (i32.const 105)) ;; i
      (then
        (memory.init $passive (i32.const 2048) (i32.const 0) (i32.const 7))
        (return (call $answer (i32.load8_u (i32.const 2048))))))
    (if (i32.eq (local.get $op) (i32.const 119)) ;; w
      (then
        (i32.store8 (i32.const 16) (i32.const 88))
        (return (call $answer (i32.const 1)))))
    (if (i32.eq (local.get $op) (i32.const 109)) ;; m
      (then (return (call $answer (i32.load8_u (i32.const 16))))))
    (i32.const 0))
)
