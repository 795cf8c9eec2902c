package kratos_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/kratos"
	"github.com/authd/authd/internal/kratos/kratostest"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
)

// BenchmarkKratosImport measures the import rate on 10 000 Kratos
// identities with a password each and a TOTP factor on every tenth (the
// figure is in BENCHMARKS.md):
//
//	go test ./internal/kratos -run '^$' -bench Import -benchtime 1x
func BenchmarkImport(b *testing.B) {
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_kratos_bench_"))
	if err != nil {
		b.Fatal(err)
	}
	defer drop()
	db, err := kratostest.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("one password for all"), 8)
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	for i := range n {
		email := fmt.Sprintf("bench-%d@example.com", i)
		id := kratostest.Identity{ID: uuid.New(), Traits: map[string]any{"email": email, "username": fmt.Sprintf("bench_%d", i)},
			PasswordIdentifier: email, PasswordHash: string(hash), Addresses: map[string]*time.Time{email: nil}}
		if i%10 == 0 {
			id.TOTPURL = "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=x"
		}
		if err := db.Insert(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	authdURL, dropAuthd, err := testenv.CreateDatabase(testenv.RandomName("authd_test_import_bench_"))
	if err != nil {
		b.Fatal(err)
	}
	defer dropAuthd()
	env := map[string]string{"DEV_MODE": "true", "DATABASE_URL": authdURL, "AUTO_MIGRATE": "true", "PUBLIC_URL": "https://app.example.test"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	mdb, err := postgres.Open(context.Background(), authdURL, postgres.PoolOptions{MaxConns: 2})
	if err != nil {
		b.Fatal(err)
	}
	if err := app.MigrateUp(context.Background(), mdb, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	mdb.Close()
	b.ResetTimer()
	for range b.N {
		imp, err := app.NewImporter(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		src, err := kratos.Open(context.Background(), kratos.Config{URL: url, RPID: imp.RPID})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		report, err := imp.Service.Import(context.Background(), src, auth.ImportOptions{BatchSize: 500})
		elapsed := time.Since(start)
		src.Close()
		imp.Close()
		if err != nil || report.Read != n {
			b.Fatalf("import: %+v, %v", report, err)
		}
		b.ReportMetric(float64(report.Imported+report.Skipped)/elapsed.Seconds(), "identities/s")
	}
}
