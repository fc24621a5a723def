;; invalid_body: well-formed binary whose function fails validation (it
;; must return an i32 but leaves nothing on the stack). Built with
;; wat2wasm --no-check. Loading must fail as an invalid module.
(module
  (memory (export "memory") 1)
  (func (export "__guest_call") (param i32 i32) (result i32)))
