;; A waPC guest whose start-up never ends: wapc_init loops forever without
;; a host call. Only the start-up deadline stops it (cli_timeout,
;; test_deadline).
(module
  (memory (export "memory") 1)
  (func (export "wapc_init")
    (loop $forever (br $forever)))
  (func (export "__guest_call") (param i32 i32) (result i32)
    i32.const 1))
