package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
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
