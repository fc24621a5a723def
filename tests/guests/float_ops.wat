;; float_ops: a waPC guest running every float instruction that wasm2c
;; 1.0.32 turns into a library call or a helper around one (sqrt, ceil,
;; floor, trunc, nearest = nearbyint, min, max, copysign, abs, neg, the
;; int<->float conversions, the trapping and saturating truncations,
;; promote/demote, reinterpret), so a module linked without libm (or with a
;; wrong helper) cannot pass. Inputs come from the payload so the C compiler
;; cannot fold anything: case k reads its operand(s) from bytes 16k and
;; 16k+8 (each the little-endian value in the low bytes of an 8-byte slot)
;; and writes its result to the 8-byte slot k of the response (i32 and f32
;; results in the low 4 bytes, the rest zero). Any operation name runs all
;; 48 cases. tests/cli/cli_test.py (FLOAT_CASES, same order) checks
;; the results bit for bit.
;; Layout: payload at 0, response at 32768, operation name at 49152.
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__guest_call") (param $op_len i32) (param $payload_len i32)
        (result i32)
    (call $guest_request (i32.const 49152) (i32.const 0))
    (f32.store (i32.const 32768) (f32.sqrt (f32.load (i32.const 0)))) ;; 0
    (f32.store (i32.const 32776) (f32.ceil (f32.load (i32.const 16)))) ;; 1
    (f32.store (i32.const 32784) (f32.floor (f32.load (i32.const 32)))) ;; 2
    (f32.store (i32.const 32792) (f32.trunc (f32.load (i32.const 48)))) ;; 3
    (f32.store (i32.const 32800) (f32.nearest (f32.load (i32.const 64)))) ;; 4
    (f32.store (i32.const 32808) (f32.abs (f32.load (i32.const 80)))) ;; 5
    (f32.store (i32.const 32816) (f32.neg (f32.load (i32.const 96)))) ;; 6
    (f32.store (i32.const 32824) (f32.min (f32.load (i32.const 112)) (f32.load (i32.const 120)))) ;; 7
    (f32.store (i32.const 32832) (f32.max (f32.load (i32.const 128)) (f32.load (i32.const 136)))) ;; 8
    (f32.store (i32.const 32840) (f32.copysign (f32.load (i32.const 144)) (f32.load (i32.const 152)))) ;; 9
    (f64.store (i32.const 32848) (f64.sqrt (f64.load (i32.const 160)))) ;; 10
    (f64.store (i32.const 32856) (f64.ceil (f64.load (i32.const 176)))) ;; 11
    (f64.store (i32.const 32864) (f64.floor (f64.load (i32.const 192)))) ;; 12
    (f64.store (i32.const 32872) (f64.trunc (f64.load (i32.const 208)))) ;; 13
    (f64.store (i32.const 32880) (f64.nearest (f64.load (i32.const 224)))) ;; 14
    (f64.store (i32.const 32888) (f64.abs (f64.load (i32.const 240)))) ;; 15
    (f64.store (i32.const 32896) (f64.neg (f64.load (i32.const 256)))) ;; 16
    (f64.store (i32.const 32904) (f64.min (f64.load (i32.const 272)) (f64.load (i32.const 280)))) ;; 17
    (f64.store (i32.const 32912) (f64.max (f64.load (i32.const 288)) (f64.load (i32.const 296)))) ;; 18
    (f64.store (i32.const 32920) (f64.copysign (f64.load (i32.const 304)) (f64.load (i32.const 312)))) ;; 19
    (f32.store (i32.const 32928) (f32.convert_i32_s (i32.load (i32.const 320)))) ;; 20
    (f32.store (i32.const 32936) (f32.convert_i32_u (i32.load (i32.const 336)))) ;; 21
    (f32.store (i32.const 32944) (f32.convert_i64_s (i64.load (i32.const 352)))) ;; 22
    (f32.store (i32.const 32952) (f32.convert_i64_u (i64.load (i32.const 368)))) ;; 23
    (f64.store (i32.const 32960) (f64.convert_i32_s (i32.load (i32.const 384)))) ;; 24
    (f64.store (i32.const 32968) (f64.convert_i32_u (i32.load (i32.const 400)))) ;; 25
    (f64.store (i32.const 32976) (f64.convert_i64_s (i64.load (i32.const 416)))) ;; 26
    (f64.store (i32.const 32984) (f64.convert_i64_u (i64.load (i32.const 432)))) ;; 27
    (f32.store (i32.const 32992) (f32.demote_f64 (f64.load (i32.const 448)))) ;; 28
    (f64.store (i32.const 33000) (f64.promote_f32 (f32.load (i32.const 464)))) ;; 29
    (i32.store (i32.const 33008) (i32.trunc_f32_s (f32.load (i32.const 480)))) ;; 30
    (i32.store (i32.const 33016) (i32.trunc_f32_u (f32.load (i32.const 496)))) ;; 31
    (i32.store (i32.const 33024) (i32.trunc_f64_s (f64.load (i32.const 512)))) ;; 32
    (i32.store (i32.const 33032) (i32.trunc_f64_u (f64.load (i32.const 528)))) ;; 33
    (i64.store (i32.const 33040) (i64.trunc_f32_s (f32.load (i32.const 544)))) ;; 34
    (i64.store (i32.const 33048) (i64.trunc_f32_u (f32.load (i32.const 560)))) ;; 35
    (i64.store (i32.const 33056) (i64.trunc_f64_s (f64.load (i32.const 576)))) ;; 36
    (i64.store (i32.const 33064) (i64.trunc_f64_u (f64.load (i32.const 592)))) ;; 37
    (i32.store (i32.const 33072) (i32.trunc_sat_f32_s (f32.load (i32.const 608)))) ;; 38
    (i32.store (i32.const 33080) (i32.trunc_sat_f32_u (f32.load (i32.const 624)))) ;; 39
    (i32.store (i32.const 33088) (i32.trunc_sat_f64_s (f64.load (i32.const 640)))) ;; 40
    (i32.store (i32.const 33096) (i32.trunc_sat_f64_u (f64.load (i32.const 656)))) ;; 41
    (i64.store (i32.const 33104) (i64.trunc_sat_f32_s (f32.load (i32.const 672)))) ;; 42
    (i64.store (i32.const 33112) (i64.trunc_sat_f32_u (f32.load (i32.const 688)))) ;; 43
    (i64.store (i32.const 33120) (i64.trunc_sat_f64_s (f64.load (i32.const 704)))) ;; 44
    (i64.store (i32.const 33128) (i64.trunc_sat_f64_u (f64.load (i32.const 720)))) ;; 45
    (f32.store (i32.const 33136) (f32.reinterpret_i32 (i32.load (i32.const 736)))) ;; 46
    (i64.store (i32.const 33144) (i64.reinterpret_f64 (f64.load (i32.const 752)))) ;; 47
    (call $guest_response (i32.const 32768) (i32.const 384))
    (i32.const 1)))
