// Turning API values into words: dates, user agents, audit event types.

import { h } from './dom.js';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function parse(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

// timeEl is a <time> with the machine-readable value and the local time.
export function timeEl(iso, { dateOnly: onlyDate = false } = {}) {
  const d = parse(iso);
  if (!d) return h('span', null, 'unknown');
  return h('time', { datetime: d.toISOString(), title: d.toString() },
    onlyDate ? dateOnly.format(d) : dateTime.format(d));
}

// ago says how long ago a time was ("5 minutes ago", "yesterday").
export function ago(iso, now = Date.now()) {
  const d = parse(iso);
  if (!d) return 'unknown';
  const seconds = Math.round((d.getTime() - now) / 1000);
  const steps = [
    [60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year'],
  ];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) {
      if (unit === 'second' && Math.abs(value) < 45) return 'just now';
      return relative.format(Math.round(value), unit);
    }
    value /= size;
  }
  return dateTime.format(d);
}

// agoEl is a <time> saying how long ago, with the exact time as its title.
export function agoEl(iso) {
  const d = parse(iso);
  if (!d) return h('span', null, 'unknown');
  return h('time', { datetime: d.toISOString(), title: dateTime.format(d) }, ago(iso));
}

// browserName summarises a user agent as "Firefox on Windows". Unknown
// agents (curl, scripts) show their first product token.
export function browserName(ua) {
  if (!ua) return 'Unknown browser';
  const browsers = [
    [/Edg(?:e|A|iOS)?\//, 'Edge'],
    [/OPR\/|Opera/, 'Opera'],
    [/SamsungBrowser\//, 'Samsung Internet'],
    [/Firefox\/|FxiOS\//, 'Firefox'],
    [/HeadlessChrome\//, 'Headless Chrome'],
    [/Chrome\/|CriOS\//, 'Chrome'],
    [/Version\/[\d.]+.*Safari\//, 'Safari'],
  ];
  const systems = [
    [/Windows/, 'Windows'],
    [/iPhone|iPad|iPod/, 'iOS'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/Android/, 'Android'],
    [/CrOS/, 'ChromeOS'],
    [/Linux/, 'Linux'],
  ];
  const browser = browsers.find(([re]) => re.test(ua));
  const system = systems.find(([re]) => re.test(ua));
  if (!browser) {
    const token = ua.split(/[\s/]/)[0];
    return token ? token.slice(0, 40) : 'Unknown browser';
  }
  return system ? `${browser[1]} on ${system[1]}` : browser[1];
}

// The audit trail's event types, in words.
const eventWords = {
  registration: 'Account created',
  login_succeeded: 'Signed in',
  login_failed: 'Failed sign-in attempt',
  logout: 'Signed out',
  password_changed: 'Password changed',
  profile_updated: 'Profile updated',
  recovery_requested: 'Password reset requested',
  recovery_completed: 'Password reset completed',
  email_verified: 'E-mail address verified',
  session_revoked: 'Session ended',
  login_second_factor_failed: 'Wrong code at the second step of a sign-in',
  login_second_factor_succeeded: 'Signed in with a second factor',
  totp_enabled: 'Authenticator app turned on',
  totp_removed: 'Authenticator app turned off',
  recovery_codes_generated: 'New recovery codes created',
  recovery_code_used: 'Recovery code used',
  passkey_added: 'Passkey added',
  passkey_removed: 'Passkey deleted',
  passkey_renamed: 'Passkey renamed',
  passkey_login_succeeded: 'Signed in with a passkey',
  passkey_login_failed: 'Failed passkey sign-in',
};

// eventName is an event type in words; an unknown type is spelled out.
export function eventName(type) {
  if (Object.hasOwn(eventWords, type)) return eventWords[type];
  const words = String(type || 'event').replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// The events worth a second look.
export function isWarning(type) {
  return type === 'login_failed' || type === 'login_second_factor_failed' || type === 'passkey_login_failed';
}

// aalText is a session's assurance level in words, with its name.
export function aalText(aal) {
  if (aal === 'aal2') return 'Two factors (aal2)';
  if (aal === 'aal1') return 'One factor (aal1)';
  return aal ? String(aal) : '';
}
