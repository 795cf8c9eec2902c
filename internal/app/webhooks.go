package app

import (
	"github.com/authd/authd/internal/mailqueue"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/webhook"
)

// newWebhooks builds the webhook deliveries when WEBHOOK_URL is set.
func (a *App) newWebhooks() error {
	cfg := a.Config
	if cfg.WebhookURL == "" {
		return nil
	}
	w, err := webhook.New(a.DB.Pool(), webhook.Config{URL: cfg.WebhookURL, Keys: cfg.WebhookKeys, Timeout: cfg.WebhookTimeout,
		Workers: cfg.WebhookWorkers, RetryBase: cfg.WebhookRetryBase, RetryMax: cfg.WebhookRetryMax,
		GiveUpAfter: cfg.WebhookGiveUpAfter}, a.Registry, a.Log)
	if err != nil {
		return err
	}
	a.webhooks = w
	a.Log.Info("webhooks on", "workers", cfg.WebhookWorkers)
	return nil
}

// queueJobs are the jobs the mail queue's River client works besides
// mail: the webhook deliveries, when on.
func (a *App) queueJobs() []mailqueue.Jobs {
	if a.webhooks == nil {
		return nil
	}
	return []mailqueue.Jobs{a.webhooks}
}

// auditLog is the audit log on db (the pool or a transaction), handing
// every event to the webhooks when they are on.
func (a *App) auditLog(db *postgres.DB) *postgres.AuditLog {
	if a.webhooks == nil {
		return postgres.NewAuditLog(db, nil)
	}
	return postgres.NewAuditLog(db, a.webhooks)
}

var (
	_ mailqueue.Jobs     = (*webhook.Webhooks)(nil)
	_ postgres.EventSink = (*webhook.Webhooks)(nil)
)
