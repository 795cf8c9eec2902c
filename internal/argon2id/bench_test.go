package argon2id

import (
	"context"
	"testing"
)

// The benchmarks use DefaultParams on purpose: their ns/op is the cost of one
// login, the figure capacity planning (and the concurrency limit on hashing)
// is derived from.

func BenchmarkHash(b *testing.B) {
	h := newHasher(b, DefaultParams())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := newHasher(b, DefaultParams())
	ctx := context.Background()
	encoded := mustHash(b, h, "correct horse battery staple")
	b.ReportAllocs()
	for b.Loop() {
		match, _, err := h.Verify(ctx, "correct horse battery staple", encoded)
		if err != nil || !match {
			b.Fatalf("Verify() = %v, %v, want true, nil", match, err)
		}
	}
}
