package main

import (
	"context"
	"testing"

	"github.com/neuronmeet/api/bench/internal/ref"
)

// BenchmarkReference measures reference (a)'s handler, and the previous
// reference's, in-process on the seeded nm_bench database.
func BenchmarkReference(b *testing.B) {
	dsn := ref.BenchmarkDSN(b)
	variants, err := loadVariants()
	if err != nil {
		b.Fatal(err)
	}
	pool, err := newPool(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	for _, c := range []struct{ name, variant, user string }{
		{"ref-a", fastest, "cbenchhost000000000000001"},
		{"ref-exact", "exact", "cbenchhost000000000000001"},
		{"ref-a-1000", fastest, "cbighost00000000000000001"},
	} {
		h := &handler{pool: pool, auth: ref.NewVerifier(ref.BenchmarkSecret), v: variants[c.variant]}
		ref.BenchmarkMyRooms(b, c.name, h, c.user)
	}
}
