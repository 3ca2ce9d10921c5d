;; The merge's hot loops as WebAssembly SIMD (v128) kernels, four float32 values at a time, over
;; arrays in the memory the merge's chunk buffers live in (imported: env.memory). Pointers are byte
;; offsets; counts are in values. Every kernel gives the same bits as the scalar JavaScript it
;; replaced (IEEE float32 arithmetic where that code rounded to float32, float64 where it computed
;; in doubles). Elementwise kernels read and write whole vectors: up to 3 values (decodeF16: 3
;; values, 6 bytes) past `n`, so every array handed to them has 16 bytes of slack after its end.
;;
;; Assembled to tiesKernelsWasm.ts by scripts/assembleKernels.ts (wabt); a unit test checks the
;; committed bytes are current.
(module
  (import "env" "memory" (memory 1))

  ;; results of topkCount and l1Sums beyond their return value
  (global $above (mut i32) (i32.const 0))
  (global $l1 (mut f64) (f64.const 0))
  (global $aboveL1 (mut f64) (f64.const 0))
  (func (export "above") (result i32) (global.get $above))
  (func (export "l1") (result f64) (global.get $l1))
  (func (export "aboveL1") (result f64) (global.get $aboveL1))

  ;; fp16 bits → float32, n values from src (2 bytes each) to dst: exact for normals and subnormals
  ;; (the half's bits moved into a float32 and scaled by 2^112), ±inf kept, NaN → 0x7fc00000.
  (func (export "decodeF16") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $h v128) (local $em v128) (local $r v128)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (local.set $h (v128.load16x4_u (local.get $src)))
        (local.set $em (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)))
        (local.set $r
          (v128.or
            (v128.bitselect
              (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)
              (f32x4.mul (i32x4.shl (local.get $em) (i32.const 13)) (v128.const f32x4 0x1p112 0x1p112 0x1p112 0x1p112))
              (i32x4.ge_s (local.get $em) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)))
            (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16))))
        (v128.store
          (local.get $dst)
          (v128.bitselect
            (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000)
            (local.get $r)
            (i32x4.gt_s (local.get $em) (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

  ;; float32 → fp16 bits, n values from src to dst (2 bytes each), round to nearest even: ≥ 65536
  ;; and inf → ±inf, NaN → 0x7e00 (signed); below 2^-14 the subnormal is what adding 0.5 leaves in
  ;; the low bits; normals rebias the exponent and round on bit 13.
  (func (export "encodeF16") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $x v128) (local $f v128) (local $v v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $x (v128.load (local.get $src)))
        (local.set $f (v128.and (local.get $x) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $v
          (v128.bitselect
            (v128.bitselect
              (v128.const i32x4 0x7e00 0x7e00 0x7e00 0x7e00)
              (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00)
              (i32x4.gt_s (local.get $f) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
            (v128.bitselect
              (i32x4.sub
                (f32x4.add (local.get $f) (v128.const f32x4 0.5 0.5 0.5 0.5))
                (v128.const i32x4 0x3f000000 0x3f000000 0x3f000000 0x3f000000))
              (i32x4.shr_u
                (i32x4.add
                  (i32x4.add (local.get $f) (v128.const i32x4 -939520001 -939520001 -939520001 -939520001))
                  (v128.and (i32x4.shr_u (local.get $f) (i32.const 13)) (v128.const i32x4 1 1 1 1)))
                (i32.const 13))
              (i32x4.lt_s (local.get $f) (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000)))
            (i32x4.ge_s (local.get $f) (v128.const i32x4 0x47800000 0x47800000 0x47800000 0x47800000))))
        (local.set $v
          (v128.or (local.get $v) (v128.and (i32x4.shr_u (local.get $x) (i32.const 16)) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000))))
        (v128.store64_lane 0 (local.get $dst) (i16x8.narrow_i32x4_u (local.get $v) (local.get $v)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (br $next))))

  ;; Top-k's counting pass over n entries of one task vector τ = x − base: counts the entries with
  ;; |τ| bits > hi (global above; a NaN counts as above) and writes |τ| of those with lo ≤ bits ≤ hi
  ;; to cand, in index order; returns how many it wrote.
  (func (export "topkCount") (param $x i32) (param $base i32) (param $n i32) (param $lo i32) (param $hi i32) (param $cand i32) (result i32)
    (local $i i32) (local $nc i32) (local $a v128) (local $g v128) (local $in v128) (local $acc v128)
    (local $lov v128) (local $hiv v128) (local $nv v128)
    (local.set $lov (i32x4.splat (local.get $lo)))
    (local.set $hiv (i32x4.splat (local.get $hi)))
    (local.set $nv (i32x4.splat (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $a
          (v128.and
            (f32x4.sub (v128.load (local.get $x)) (v128.load (local.get $base)))
            (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        ;; lanes past n count nothing
        (local.set $in
          (i32x4.lt_s (i32x4.add (i32x4.splat (local.get $i)) (v128.const i32x4 0 1 2 3)) (local.get $nv)))
        (local.set $g (v128.and (i32x4.gt_s (local.get $a) (local.get $hiv)) (local.get $in)))
        (local.set $in (v128.andnot (v128.and (i32x4.ge_s (local.get $a) (local.get $lov)) (local.get $in)) (local.get $g)))
        (local.set $acc (i32x4.sub (local.get $acc) (local.get $g)))
        (if (v128.any_true (local.get $in))
          (then
            (if (i32x4.extract_lane 0 (local.get $in))
              (then
                (i32.store (i32.add (local.get $cand) (i32.shl (local.get $nc) (i32.const 2))) (i32x4.extract_lane 0 (local.get $a)))
                (local.set $nc (i32.add (local.get $nc) (i32.const 1)))))
            (if (i32x4.extract_lane 1 (local.get $in))
              (then
                (i32.store (i32.add (local.get $cand) (i32.shl (local.get $nc) (i32.const 2))) (i32x4.extract_lane 1 (local.get $a)))
                (local.set $nc (i32.add (local.get $nc) (i32.const 1)))))
            (if (i32x4.extract_lane 2 (local.get $in))
              (then
                (i32.store (i32.add (local.get $cand) (i32.shl (local.get $nc) (i32.const 2))) (i32x4.extract_lane 2 (local.get $a)))
                (local.set $nc (i32.add (local.get $nc) (i32.const 1)))))
            (if (i32x4.extract_lane 3 (local.get $in))
              (then
                (i32.store (i32.add (local.get $cand) (i32.shl (local.get $nc) (i32.const 2))) (i32x4.extract_lane 3 (local.get $a)))
                (local.set $nc (i32.add (local.get $nc) (i32.const 1)))))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next)))
    (global.set $above
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
        (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
    (local.get $nc))

  ;; The L1 sums rescale needs, in float64 and in index order (as the scalar code summed them):
  ;; Σ |τ| (global l1) and Σ |τ| over the entries with bits > hi (global aboveL1).
  (func (export "l1Sums") (param $x i32) (param $base i32) (param $n i32) (param $hi i32)
    (local $end i32) (local $d f32) (local $fa f64) (local $l1 f64) (local $above f64)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $d (f32.sub (f32.load (local.get $x)) (f32.load (local.get $base))))
        (local.set $fa (f64.promote_f32 (f32.abs (local.get $d))))
        (local.set $l1 (f64.add (local.get $l1) (local.get $fa)))
        (local.set $above
          (f64.add
            (local.get $above)
            (f64.mul
              (f64.convert_i32_u
                (i32.shr_u
                  (i32.sub (local.get $hi) (i32.and (i32.reinterpret_f32 (local.get $d)) (i32.const 0x7fffffff)))
                  (i32.const 31)))
              (local.get $fa))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $base (i32.add (local.get $base) (i32.const 4)))
        (br $next)))
    (global.set $l1 (local.get $l1))
    (global.set $aboveL1 (local.get $above)))

  ;; Trim and scale in place: x ← (x − base) · scale (the product in float64, rounded to float32)
  ;; where |x − base| bits > at, and for the first `left` entries with bits = at; 0 · scale
  ;; elsewhere. Returns the ties still left. at = -1 keeps every entry.
  (func (export "trim") (param $x i32) (param $base i32) (param $n i32) (param $at i32) (param $scale f64) (param $left i32) (result i32)
    (local $i i32) (local $d v128) (local $a v128) (local $keep v128) (local $eq v128) (local $atv v128) (local $sv v128)
    (local.set $atv (i32x4.splat (local.get $at)))
    (local.set $sv (f64x2.splat (local.get $scale)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $d (f32x4.sub (v128.load (local.get $x)) (v128.load (local.get $base))))
        (local.set $a (v128.and (local.get $d) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $keep (i32x4.gt_s (local.get $a) (local.get $atv)))
        ;; the threshold's ties (rare): the first `left` of them, in index order, are kept
        (if (i32.gt_s (local.get $left) (i32.const 0))
          (then
            (local.set $eq
              (v128.and
                (i32x4.eq (local.get $a) (local.get $atv))
                (i32x4.lt_s
                  (i32x4.add (i32x4.splat (local.get $i)) (v128.const i32x4 0 1 2 3))
                  (i32x4.splat (local.get $n)))))
            (if (v128.any_true (local.get $eq))
              (then
                (if (i32.and (i32.gt_s (local.get $left) (i32.const 0)) (i32.ne (i32x4.extract_lane 0 (local.get $eq)) (i32.const 0)))
                  (then
                    (local.set $keep (i32x4.replace_lane 0 (local.get $keep) (i32.const -1)))
                    (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
                (if (i32.and (i32.gt_s (local.get $left) (i32.const 0)) (i32.ne (i32x4.extract_lane 1 (local.get $eq)) (i32.const 0)))
                  (then
                    (local.set $keep (i32x4.replace_lane 1 (local.get $keep) (i32.const -1)))
                    (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
                (if (i32.and (i32.gt_s (local.get $left) (i32.const 0)) (i32.ne (i32x4.extract_lane 2 (local.get $eq)) (i32.const 0)))
                  (then
                    (local.set $keep (i32x4.replace_lane 2 (local.get $keep) (i32.const -1)))
                    (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
                (if (i32.and (i32.gt_s (local.get $left) (i32.const 0)) (i32.ne (i32x4.extract_lane 3 (local.get $eq)) (i32.const 0)))
                  (then
                    (local.set $keep (i32x4.replace_lane 3 (local.get $keep) (i32.const -1)))
                    (local.set $left (i32.sub (local.get $left) (i32.const 1)))))))))
        (local.set $d (v128.and (local.get $d) (local.get $keep)))
        (v128.store
          (local.get $x)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $d)) (local.get $sv)))
            (f32x4.demote_f64x2_zero
              (f64x2.mul
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $d) (local.get $d)))
                (local.get $sv)))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next)))
    (local.get $left))

  ;; TIES' sign election and disjoint mean for two weighted task vectors a and c, over base in place:
  ;; base ← base + (ka·a + kc·c) · f[ka + 2kc] in float64, rounded to float32, where the elected sign
  ;; is that of the larger magnitude (of both when equal; + when both are zero) and ka, kc say
  ;; whether a, c are nonzero with the elected sign.
  (func (export "ties2") (param $pa i32) (param $pc i32) (param $pb i32) (param $n i32)
    (param $f0 f64) (param $f1 f64) (param $f2 f64) (param $f3 f64)
    (local $end i32) (local $ia v128) (local $ic v128) (local $b v128) (local $ma v128) (local $mc v128) (local $sa v128)
    (local $sc v128) (local $neg v128) (local $ka v128) (local $kc v128) (local $lo v128) (local $hi v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local.set $v0 (f64x2.splat (local.get $f0)))
    (local.set $v1 (f64x2.splat (local.get $f1)))
    (local.set $v2 (f64x2.splat (local.get $f2)))
    (local.set $v3 (f64x2.splat (local.get $f3)))
    (local.set $end (i32.add (local.get $pb) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $pb) (local.get $end)))
        (local.set $ia (v128.load (local.get $pa)))
        (local.set $ic (v128.load (local.get $pc)))
        (local.set $b (v128.load (local.get $pb)))
        (local.set $ma (v128.and (local.get $ia) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $mc (v128.and (local.get $ic) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (local.set $sa (i32x4.shr_u (local.get $ia) (i32.const 31)))
        (local.set $sc (i32x4.shr_u (local.get $ic) (i32.const 31)))
        (local.set $neg
          (v128.or
            (v128.or
              (v128.and (local.get $sa) (i32x4.shr_u (i32x4.sub (local.get $mc) (local.get $ma)) (i32.const 31)))
              (v128.and (local.get $sc) (i32x4.shr_u (i32x4.sub (local.get $ma) (local.get $mc)) (i32.const 31))))
            (v128.and (v128.and (local.get $sa) (local.get $sc)) (i32x4.shr_u (i32x4.neg (local.get $ma)) (i32.const 31)))))
        (local.set $ka
          (v128.andnot (i32x4.shr_u (i32x4.neg (local.get $ma)) (i32.const 31)) (v128.xor (local.get $sa) (local.get $neg))))
        (local.set $kc
          (v128.andnot (i32x4.shr_u (i32x4.neg (local.get $mc)) (i32.const 31)) (v128.xor (local.get $sc) (local.get $neg))))
        ;; lanes 0 and 1
        (local.set $lo
          (f64x2.add
            (f64x2.promote_low_f32x4 (local.get $b))
            (f64x2.mul
              (f64x2.add
                (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $ka)) (f64x2.promote_low_f32x4 (local.get $ia)))
                (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $kc)) (f64x2.promote_low_f32x4 (local.get $ic))))
              (v128.bitselect
                (v128.bitselect (local.get $v3) (local.get $v1) (i64x2.extend_low_i32x4_s (i32x4.neg (local.get $kc))))
                (v128.bitselect (local.get $v2) (local.get $v0) (i64x2.extend_low_i32x4_s (i32x4.neg (local.get $kc))))
                (i64x2.extend_low_i32x4_s (i32x4.neg (local.get $ka)))))))
        ;; lanes 2 and 3, moved down
        (local.set $ia (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $ia) (local.get $ia)))
        (local.set $ic (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $ic) (local.get $ic)))
        (local.set $b (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $b) (local.get $b)))
        (local.set $ka (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $ka) (local.get $ka)))
        (local.set $kc (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $kc) (local.get $kc)))
        (local.set $hi
          (f64x2.add
            (f64x2.promote_low_f32x4 (local.get $b))
            (f64x2.mul
              (f64x2.add
                (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $ka)) (f64x2.promote_low_f32x4 (local.get $ia)))
                (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $kc)) (f64x2.promote_low_f32x4 (local.get $ic))))
              (v128.bitselect
                (v128.bitselect (local.get $v3) (local.get $v1) (i64x2.extend_low_i32x4_s (i32x4.neg (local.get $kc))))
                (v128.bitselect (local.get $v2) (local.get $v0) (i64x2.extend_low_i32x4_s (i32x4.neg (local.get $kc))))
                (i64x2.extend_low_i32x4_s (i32x4.neg (local.get $ka)))))))
        (v128.store
          (local.get $pb)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $lo))
            (f32x4.demote_f64x2_zero (local.get $hi))))
        (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
        (local.set $pc (i32.add (local.get $pc) (i32.const 16)))
        (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
        (br $next))))
)
