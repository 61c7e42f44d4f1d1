package main

import (
	"context"
	"testing"

	"github.com/neuronmeet/api/bench/internal/ref"
)

// BenchmarkReference measures reference (b)'s handler in-process on the
// seeded nm_bench database.
func BenchmarkReference(b *testing.B) {
	pool, err := newPool(context.Background(), ref.BenchmarkDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	h := &handler{pool: pool, auth: ref.NewVerifier(ref.BenchmarkSecret), variant: variantPipeline}
	ref.BenchmarkMyRooms(b, "ref-b", h, "cbenchhost000000000000001")
	ref.BenchmarkMyRooms(b, "ref-b-1000", h, "cbighost00000000000000001")
}
