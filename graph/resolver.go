package graph

import "github.com/neuronmeet/api/service"

// Resolver holds the dependencies every resolver shares.
type Resolver struct {
	Service *service.Service
}
