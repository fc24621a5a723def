;; no_memory: exports __guest_call but keeps its memory private, so the host
;; cannot exchange data with it. Loading must fail naming the memory export.
(module
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory 1)
  (func (export "__guest_call") (param i32 i32) (result i32)
    (call $guest_response (i32.const 0) (i32.const 0))
    (i32.const 1)))
