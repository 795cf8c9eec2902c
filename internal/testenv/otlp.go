package testenv

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// OTLPReceiver is an OTLP/HTTP trace receiver on a free loopback port: it
// accepts what an exporter posts to /v1/traces and keeps the spans.
type OTLPReceiver struct {
	srv *http.Server
	url string

	mu    sync.Mutex
	spans []Span
}

// Span is one received span, flattened for assertions.
type Span struct {
	Name     string
	TraceID  string
	SpanID   string
	ParentID string
	Kind     string
	// Attrs are the span's attributes and its events' attributes, as text.
	Attrs map[string]string
	// Resource are the attributes of the resource that sent it.
	Resource map[string]string
}

// StartOTLPReceiver listens on 127.0.0.1 and serves until Close.
func StartOTLPReceiver() (*OTLPReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testenv: OTLP receiver: %w", err)
	}
	r := &OTLPReceiver{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.traces)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// URL is the base URL to give an exporter (OTEL_EXPORTER_OTLP_ENDPOINT).
func (r *OTLPReceiver) URL() string { return r.url }

// Close stops the receiver.
func (r *OTLPReceiver) Close() error { return r.srv.Close() }

// Spans returns every span received so far.
func (r *OTLPReceiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// WaitFor polls until ok holds for the spans received, or fails after
// timeout with what did arrive.
func (r *OTLPReceiver) WaitFor(ok func([]Span) bool, timeout time.Duration) ([]Span, error) {
	deadline := time.Now().Add(timeout)
	for {
		spans := r.Spans()
		if ok(spans) {
			return spans, nil
		}
		if time.Now().After(deadline) {
			names := make([]string, len(spans))
			for i, s := range spans {
				names[i] = s.Name
			}
			return spans, fmt.Errorf("testenv: awaited spans did not arrive within %s; got %v", timeout, names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *OTLPReceiver) traces(w http.ResponseWriter, req *http.Request) {
	body := io.Reader(req.Body)
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	b, err := io.ReadAll(io.LimitReader(body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range msg.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				a := attrs(s.GetAttributes())
				for _, ev := range s.GetEvents() {
					for k, v := range attrs(ev.GetAttributes()) {
						a["event."+ev.GetName()+"."+k] = v
					}
				}
				got = append(got, Span{
					Name: s.GetName(), TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentID: hex.EncodeToString(s.GetParentSpanId()), Kind: s.GetKind().String(), Attrs: a, Resource: res,
				})
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyValue(kv.GetValue())
	}
	return m
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return string(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		var out string
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				out += ","
			}
			out += anyValue(e)
		}
		return out
	}
	return ""
}
