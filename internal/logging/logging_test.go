package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestRequestIDIsAddedFromContext(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "info").With("component", "test")
	log.InfoContext(WithRequestID(context.Background(), "req-1"), "hello")
	log.DebugContext(context.Background(), "hidden at info level")

	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("want exactly one JSON line, got %q: %v", buf.String(), err)
	}
	if rec["request_id"] != "req-1" || rec["component"] != "test" || rec["msg"] != "hello" {
		t.Errorf("record = %v, want request_id=req-1 component=test msg=hello", rec)
	}
}

func TestTraceIDIsAddedFromContext(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "info")
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	log.InfoContext(ctx, "traced")
	log.InfoContext(context.Background(), "untraced")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	var traced, untraced map[string]any
	if err := json.Unmarshal(lines[0], &traced); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &untraced); err != nil {
		t.Fatal(err)
	}
	if traced["trace_id"] != tid.String() || traced["span_id"] != sid.String() {
		t.Errorf("traced line = %v", traced)
	}
	if _, ok := untraced["trace_id"]; ok {
		t.Errorf("untraced line has a trace id: %v", untraced)
	}
}
