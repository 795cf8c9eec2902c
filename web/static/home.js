// /: the signed-in person's account, verifying the e-mail address, and
// once after a password sign-in the offer to create a passkey.

import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { page, field, formView, bindForm, bindButton, clientCheck, button, link, stepGate } from './ui.js';
import { timeEl, aalText, browserName } from './format.js';
import { supported, createPasskey, isWebAuthnError, webAuthnMessage } from './webauthn.js';

export const title = 'Your account';
export const signedIn = true;

let passkeyOffer = false; // set by a password sign-in, taken by the next home screen

// offerPasskey asks the next home screen to offer a passkey (once).
export function offerPasskey() {
  passkeyOffer = true;
}

export function dropPasskeyOffer() {
  passkeyOffer = false;
}

// offerCard: "Sign in faster with a passkey", with "Create a passkey" and
// "Not now". Shown once; leaving the screen forgets it.
function offerCard(ctx) {
  const create = button('Create a passkey', { variant: 'primary' });
  const later = button('Not now');
  const gate = stepGate(ctx);
  const heading = h('h2', { tabindex: '-1' }, 'Sign in faster with a passkey');
  const body = h('div', null,
    h('p', null, 'A passkey lets you sign in with your fingerprint, face or screen lock instead of your password. '
      + 'It is kept by this device or your password manager, and it cannot be phished.'),
    h('div', { class: 'actions' }, create, later));
  const card = h('section', { class: 'card card-attention', dataset: { testid: 'passkey-offer' } },
    heading, gate.root, body);

  later.addEventListener('click', () => {
    const hadFocus = card.contains(document.activeElement);
    card.remove();
    if (hadFocus) ctx.page.heading.focus();
    ctx.page.info('No passkey was created. You can add one at any time in Security.');
  });

  bindButton(ctx, create, {
    send: async (o) => {
      gate.hide();
      const begin = await api.passkeyRegisterBegin(o);
      const credential = await createPasskey(begin.data, { signal: o.signal });
      return api.passkeyRegisterFinish(browserName(navigator.userAgent).slice(0, 64), credential, o);
    },
    done: () => {
      body.replaceChildren(h('p', null, 'Your passkey was created. Next time, choose "Sign in with a passkey". ',
        link('Manage your passkeys', '/security'), '.'));
      heading.textContent = 'Passkey created';
      heading.focus();
      ctx.page.info('Your passkey was created.');
    },
    failed: (err) => {
      if (gate.handle(err)) return true;
      if (isWebAuthnError(err)) {
        ctx.page.error(webAuthnMessage(err, { creating: true }));
        return true;
      }
      return false;
    },
  });
  return card;
}

// value is a profile value for a data-testid element: the text itself, or
// nothing (the stylesheet shows "Not set" for an empty one).
function value(testid, text) {
  return h('dd', null, h('span', { class: 'value', dataset: { testid } }, text || ''));
}

function verifiedBadge(verified) {
  const badge = h('span', { class: 'badge', dataset: { testid: 'profile-verified' } });
  setVerified(badge, verified);
  return badge;
}

function setVerified(badge, verified) {
  badge.textContent = verified ? 'Verified' : 'Not verified';
  badge.classList.toggle('badge-ok', verified);
  badge.classList.toggle('badge-warn', !verified);
}

// verifyCard lets an unverified person enter the code from their mail.
function verifyCard(ctx, profile, onVerified) {
  const code = field({
    label: 'Verification code', name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric',
    autocapitalize: 'none', spellcheck: 'false', enterkeyhint: 'done',
  });
  code.input.classList.add('input-code');
  const resend = button('Send a new code');
  const { form, submit } = formView({ fields: [code], submitLabel: 'Verify', actions: [resend] });
  const heading = h('h2', null, 'Verify your e-mail');
  const card = h('section', { class: 'card card-attention' },
    heading,
    h('p', null, 'We sent a 6-digit code and a link to ', h('strong', null, profile.email),
      '. Enter the code here, or open the link in the e-mail.'),
    form);

  bindForm(ctx, {
    form,
    submit,
    fields: { code },
    check: () => clientCheck([[code, 'Enter the 6-digit code from the e-mail.']]),
    send: (o) => api.submitVerificationCode(code.input.value.replace(/\s+/g, ''), o),
    done: (res) => onVerified(res.data, card),
    failed: (err) => {
      if (err instanceof ApiError && err.status === 410) {
        ctx.page.error(`${err.detail} Send a new code and try again.`);
        code.input.value = '';
        resend.focus();
        return true;
      }
      return false;
    },
  });

  bindButton(ctx, resend, {
    send: (o) => api.sendVerificationCode(o),
    done: () => {
      code.clearError();
      code.input.value = '';
      ctx.page.info(`We sent a new code to ${profile.email}. It may take a minute to arrive.`);
      code.input.focus();
    },
  });
  return card;
}

export function render(ctx) {
  const profile = ctx.profile;
  const pg = page({ title, layout: 'wide' });
  ctx.page = pg;

  const badge = verifiedBadge(profile.email_verified);
  const details = h('dl', { class: 'details' },
    h('div', null, h('dt', null, 'E-mail'), value('profile-email', profile.email)),
    h('div', null, h('dt', null, 'E-mail status'), h('dd', null, badge)),
    h('div', null, h('dt', null, 'Username'), value('profile-username', profile.username)),
    h('div', null, h('dt', null, 'Location'), value('profile-location', profile.geo_location)),
    h('div', null, h('dt', null, 'This sign-in'), value('profile-aal', aalText(profile.aal))),
    h('div', null, h('dt', null, 'Member since'), h('dd', null, timeEl(profile.created_at, { dateOnly: true }))));

  const profileCard = h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', null, 'Profile'), link('Edit profile', '/settings', { class: 'card-link' })),
    details);

  const cards = [];
  const f = profile.factors || {};
  if (passkeyOffer && supported() && !f.totp && !(f.passkeys > 0)) cards.push(offerCard(ctx));
  passkeyOffer = false;
  if (!profile.email_verified) {
    cards.push(verifyCard(ctx, profile, (updated, card) => {
      setVerified(badge, updated ? updated.email_verified !== false : true);
      const hadFocus = card.contains(document.activeElement);
      card.remove();
      if (hadFocus) pg.heading.focus();
      pg.info('Your e-mail address is verified.');
    }));
  }
  cards.push(profileCard);

  pg.body.append(...cards);
  return pg;
}
