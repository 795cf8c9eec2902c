package tracing

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/authd/authd/internal/testenv"
)

func TestDisabledRecordsNothing(t *testing.T) {
	p, err := New(context.Background(), Config{ServiceName: "authd"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() {
		t.Error("a provider without an endpoint says it exports")
	}
	_, span := p.Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Error("a span of the disabled provider records")
	}
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestExportsOverOTLPHTTP sends a span to a real OTLP/HTTP receiver and
// finds it there with the service's name and version.
func TestExportsOverOTLPHTTP(t *testing.T) {
	rcv, err := testenv.StartOTLPReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	p, err := New(context.Background(), Config{Endpoint: rcv.URL(), ServiceName: "authd-test", Version: "1.2.3", SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled() {
		t.Fatal("a provider with an endpoint says it does not export")
	}
	_, span := p.Tracer("t").Start(context.Background(), "unit of work")
	span.SetAttributes(attribute.String("k", "v"))
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	spans, err := rcv.WaitFor(func(s []testenv.Span) bool { return len(s) > 0 }, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := spans[0]
	if s.Name != "unit of work" || s.Attrs["k"] != "v" || s.Resource["service.name"] != "authd-test" || s.Resource["service.version"] != "1.2.3" || len(s.TraceID) != 32 {
		t.Errorf("received %+v", s)
	}
}
