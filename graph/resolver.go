package graph

import (
	"github.com/neuronmeet/api/admission"
	"github.com/neuronmeet/api/service"
)

// Resolver holds the dependencies every resolver shares.
type Resolver struct {
	Service *service.Service
	// Gate admits each subscription event to resolution (admitEvents).
	Gate *admission.Gate
}
