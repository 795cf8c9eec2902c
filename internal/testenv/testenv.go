// Package testenv gives integration tests their own PostgreSQL database and
// Valkey key prefix on the shared servers, and removes only what it made.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	vk "github.com/valkey-io/valkey-go"
)

// PostgresAdminURL is the server the test databases are made on.
func PostgresAdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// ValkeyURL is the Valkey (or Redis) server for tests.
func ValkeyURL() string {
	if u := os.Getenv("TEST_VALKEY_URL"); u != "" {
		return u
	}
	if u := os.Getenv("VALKEY_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// RandomName returns prefix followed by 12 random hex characters.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// CreateDatabase makes a fresh, empty database and returns its URL and a
// function that drops it. A server that cannot be reached is an error:
// `make test` starts PostgreSQL, so tests never skip for want of it.
func CreateDatabase(name string) (dbURL string, drop func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, PostgresAdminURL())
	if err != nil {
		return "", nil, fmt.Errorf("testenv: PostgreSQL at %s is not reachable (run `make test`, which starts it): %w", redact(PostgresAdminURL()), err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("testenv: create database %s: %w", name, err)
	}
	u, err := url.Parse(PostgresAdminURL())
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, PostgresAdminURL())
		if err != nil {
			fmt.Fprintf(os.Stderr, "testenv: drop database %s: %v\n", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: drop database %s: %v\n", name, err)
		}
	}
	return u.String(), drop, nil
}

// DeleteKeys removes every key under prefix, and nothing else.
func DeleteKeys(c vk.Client, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cursor uint64
	for {
		res, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return fmt.Errorf("testenv: scan %s*: %w", prefix, err)
		}
		for _, k := range res.Elements {
			if err := c.Do(ctx, c.B().Del().Key(k).Build()).Error(); err != nil {
				return fmt.Errorf("testenv: delete key: %w", err)
			}
		}
		if res.Cursor == 0 {
			return nil
		}
		cursor = res.Cursor
	}
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "TEST_DATABASE_URL"
	}
	return p.Redacted()
}
