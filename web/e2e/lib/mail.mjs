// Reading the mails authd sent, from Mailpit's HTTP API.
const POLL_MS = 150;

export class Mailbox {
  constructor(mailpitURL) {
    this.url = mailpitURL;
  }

  async #get(p) {
    const r = await fetch(this.url + p);
    if (!r.ok) throw new Error(`Mailpit GET ${p}: ${r.status}`);
    return r.json();
  }

  // ids lists the messages to an address now in the inbox.
  async ids(to) {
    const j = await this.#get('/api/v1/messages?limit=500');
    return new Set((j.messages || []).filter((m) => addressedTo(m, to)).map((m) => m.ID));
  }

  // waitFor resolves with the newest message to `to` whose subject matches,
  // and that is not in `exclude`, polling until the deadline.
  async waitFor({ to, subject, exclude = new Set(), timeout = 15_000 }) {
    const deadline = Date.now() + timeout;
    let seen = [];
    for (;;) {
      const j = await this.#get('/api/v1/messages?limit=500');
      seen = j.messages || [];
      const m = seen.filter((m) => addressedTo(m, to) && subject.test(m.Subject) && !exclude.has(m.ID))
        .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created))[0];
      if (m) {
        const full = await this.#get(`/api/v1/message/${encodeURIComponent(m.ID)}`);
        return { id: m.ID, subject: m.Subject, text: full.Text || '', html: full.HTML || '' };
      }
      if (Date.now() > deadline) {
        throw new Error(`no mail to ${to} with subject ${subject} within ${timeout} ms; the inbox has: ` +
          JSON.stringify(seen.map((m) => ({ to: (m.To || []).map((a) => a.Address), subject: m.Subject }))));
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}

function addressedTo(m, to) {
  return (m.To || []).some((a) => a.Address.toLowerCase() === to.toLowerCase());
}

// tokenLink finds the link base+path?token=… in a mail's text.
export function tokenLink(mail, base, path) {
  const re = new RegExp(escapeRe(base + path) + '\\?token=[A-Za-z0-9._~%-]+');
  const m = mail.text.match(re);
  if (!m) throw new Error(`no link ${base}${path}?token=… in the mail "${mail.subject}":\n${mail.text}`);
  const html = mail.html.replaceAll('&amp;', '&');
  if (!html.includes(m[0])) throw new Error(`the HTML part of "${mail.subject}" lacks the link ${m[0]}`);
  return m[0];
}

// sixDigitCode finds the verification code: six digits standing alone
// (links, whose tokens may hold digits, taken out first).
export function sixDigitCode(mail) {
  const text = mail.text.replace(/https?:\/\/\S+/g, ' ');
  const codes = [...text.matchAll(/(?<![\w-])(\d{6})(?![\w-])/g)].map((m) => m[1]);
  if (codes.length !== 1) throw new Error(`want one 6-digit code in "${mail.subject}", found ${JSON.stringify(codes)}:\n${mail.text}`);
  return codes[0];
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
