;; Kiln's built-in example: count the primes below n with a sieve of
;; Eratosthenes in linear memory. count_primes(100000) = 9592.
(module
  (memory 2)
  (func (export "count_primes") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $count i32)
    ;; memory[i] = 1 marks i as composite; one byte per number.
    (if (i32.gt_u (local.get $n) (i32.const 131072)) (then unreachable))
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            ;; Only i < 46341 can have i*i < n without overflowing.
            (local.set $j
              (select (i32.mul (local.get $i) (local.get $i)) (local.get $n)
                (i32.lt_u (local.get $i) (i32.const 46341))))
            (block $marked
              (loop $mark
                (br_if $marked (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $mark)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $count)))
