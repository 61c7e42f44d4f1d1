package graph

import (
	"github.com/neuronmeet/api/internal/admission"
	"github.com/neuronmeet/api/internal/service"
)

// Resolver holds the dependencies every resolver shares.
type Resolver struct {
	Service *service.Service
	// Gate admits each subscription event to resolution (admitEvents).
	Gate *admission.Gate
}
