;; A waPC guest whose __guest_call runs memory.fill over its whole 2 MiB
;; memory forever: nearly all its time is spent in the host's memset, not
;; in guest code, so only the module's own bulk-memory pieces (engine/glue.c)
;; let a deadline stop it (test_engine_deadline).
(module
  (memory (export "memory") 32)
  (func (export "__guest_call") (param i32 i32) (result i32)
    (loop $forever
      (memory.fill (i32.const 0) (i32.const 7) (i32.const 2097152))
      (br $forever))
    i32.const 1))
