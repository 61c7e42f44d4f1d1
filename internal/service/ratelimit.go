package service

import "github.com/neuronmeet/api/internal/ratelimit"

// SetRateLimits makes Login, Register and JoinRoom refuse attempts over
// g's limits with TOO_MANY_REQUESTS. The limits live here, not in an edge,
// so GraphQL (aliases included) and REST spend the same allowance. Call it
// while wiring, before serving.
func (s *Service) SetRateLimits(g *ratelimit.Guard) { s.limits = g }
