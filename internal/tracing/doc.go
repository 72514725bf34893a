// Package tracing sets up OpenTelemetry tracing for the processes and
// carries a push's trace context along its path: the push API starts a
// push's trace (or continues the backend's), the context travels as a W3C
// traceparent in the Kafka record's headers to core and in the internal
// stream's message to the edge, and each stage adds its span.
//
// Tracing is off by default: a nil or no-op TracerProvider makes every call
// here cost a branch, and a message that is not sampled carries no
// traceparent at all, so the fan-out pays nothing for it.
package tracing
