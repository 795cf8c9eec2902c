package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCheckBaseURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080", "http://127.1.2.3", "https://LOCALHOST/prefix/"} {
		if _, err := checkBaseURL(ok, false); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://example.com", "http://10.0.0.1:8080", "http://[::ffff:8.8.8.8]", "ftp://127.0.0.1", "127.0.0.1:8080", "http://u:p@127.0.0.1", "http://localhost.evil.com"} {
		if _, err := checkBaseURL(bad, false); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := checkBaseURL("http://example.com", true); err != nil {
		t.Errorf("-allow-remote: %v", err)
	}
}

func TestPlanOverrides(t *testing.T) {
	base := config{Scenario: "mixed", StartRate: -1, MaxVUs: 300}
	def, err := plan(base)
	if err != nil || def.schedule.Duration() != 230*time.Second || def.schedule.StartRate != 10 {
		t.Fatalf("mixed default: %+v %v", def.schedule, err)
	}
	c := base
	c.Stages, c.Mix = "10s:20,5s:0", "register=1"
	if def, err = plan(c); err != nil || def.schedule.Duration() != 15*time.Second || def.mix.String() != "register=1" {
		t.Fatalf("stages+mix: %+v %v %v", def.schedule, def.mix, err)
	}
	c = base
	c.Rate, c.Duration = 5, 2*time.Second
	if def, err = plan(c); err != nil || def.schedule.CountAt(2*time.Second) != 10 {
		t.Fatalf("constant: %+v %v", def.schedule, err)
	}
	for _, bad := range []config{
		{Scenario: "nope", MaxVUs: 1},
		{Scenario: "mixed", Rate: 5, Stages: "1s:1", MaxVUs: 1},
		{Scenario: "mixed", Duration: time.Second, StartRate: -1, MaxVUs: 1},
		{Scenario: "login", StartRate: -1, MaxVUs: 0},
		{Scenario: "login", Stages: "1s:1", Duration: time.Second, StartRate: -1, MaxVUs: 1},
		{Scenario: "login", Mix: "smoke=1", StartRate: -1, MaxVUs: 1},
	} {
		if _, err := plan(bad); err == nil {
			t.Errorf("plan(%+v) accepted", bad)
		}
	}
}

func TestRealMainRefusesRemote(t *testing.T) {
	var out, errb bytes.Buffer
	code := realMain([]string{"-scenario", "health", "-base-url", "http://192.0.2.1:8080"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "not loopback") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if code := realMain([]string{"-bogus"}, &out, &errb); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || c.StartRate != -1 || c.Scenario != "mixed" || c.RecoveryEmail != c.SeedEmail || c.GracefulStop != 30*time.Second {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = parseFlags([]string{"-start-rate", "0", "-seed-email", "a@b.c", "-stages", "1s:2"}, &bytes.Buffer{})
	if err != nil || c.StartRate != 0 || c.RecoveryEmail != "a@b.c" || !strings.Contains(c.Command, "-stages 1s:2") {
		t.Fatalf("given: %+v %v", c, err)
	}
}
