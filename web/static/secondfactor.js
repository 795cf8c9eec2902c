// /second-factor: the second step of a sign-in. The password was right and
// the account has a second factor: a code of the authenticator app, a
// recovery code or a passkey finishes the sign-in.
//
// Reached from sign in (which knows the methods), or from any signed-in
// screen whose GET /auth/me answered 403 second_factor_required (a sign-in
// left half done), or when a change needs a second factor the session has
// not shown (then the session is signed in with one factor only).

import { api, ApiError, isAbort } from './api.js';
import { h } from './dom.js';
import { page, field, formView, bindForm, bindButton, clientCheck, button, describe, waitMessage } from './ui.js';
import { takeReturnTo, forget, signInAgain } from './router.js';
import { supported, getPasskey, isWebAuthnError, webAuthnMessage } from './webauthn.js';

export const title = 'Two-step verification';

const known = ['totp', 'recovery_code', 'passkey'];
let expected = null; // the methods the sign-in's reply named

// expect keeps the methods of a sign-in's reply for the next render.
export function expect(methods) {
  const list = Array.isArray(methods) ? methods.filter((m) => known.includes(m)) : [];
  expected = list.length ? list : null;
}

export function dropExpected() {
  expected = null;
}

// done leaves for where the person was going, saying what was used.
function finished(ctx, profile, method) {
  let info = null;
  const left = profile && profile.factors ? profile.factors.recovery_codes_left : undefined;
  if (method === 'recovery_code' && typeof left === 'number') {
    info = left === 0
      ? 'You used your last recovery code. Get new ones in Security now.'
      : `You signed in with a recovery code. ${left === 1 ? '1 code is' : `${left} codes are`} left; each works once.`;
  }
  ctx.navigate(takeReturnTo(), { replace: true, notice: info ? { info } : null });
}

// expired: the half-done sign-in is gone (too old, or ended): start again.
function expired(ctx) {
  forget();
  ctx.navigate('/login', { replace: true, notice: { error: 'Your sign-in has expired. Sign in again.' } });
}

function codeField(props) {
  const f = field({ autocapitalize: 'none', spellcheck: 'false', required: true, ...props });
  return f;
}

// pendingView asks for one of the methods the account has.
function pendingView(ctx, pg, methods) {
  const has = (m) => methods.includes(m);
  const sections = [];
  const switches = [];
  const leadText = has('totp')
    ? 'Your password was right. Enter the code from your authenticator app to finish signing in.'
    : 'Your password was right. Use your passkey, or one of your recovery codes, to finish signing in.';

  let totpSection = null;
  let totpInput = null;
  if (has('totp')) {
    const code = codeField({
      label: 'Authentication code', name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric',
      enterkeyhint: 'done', hint: 'The 6-digit code your authenticator app shows for this account now.',
    });
    code.input.classList.add('input-code');
    code.input.maxLength = 10;
    totpInput = code.input;
    const { form, submit } = formView({ fields: [code], submitLabel: 'Verify' });
    bindForm(ctx, {
      form,
      submit,
      fields: { code },
      check: () => clientCheck([[code, 'Enter the 6-digit code from your authenticator app.']]),
      send: (o) => api.secondFactor('totp', code.input.value.replace(/[\s-]+/g, ''), o),
      done: (res) => finished(ctx, res.data, 'totp'),
      failed: (err) => codeFailed(ctx, err, code),
    });
    totpSection = h('div', { class: 'step' }, h('h2', null, 'With your authenticator app'), form);
    sections.push(totpSection);
  }

  let recoverySection = null;
  let recoveryInput = null;
  if (has('recovery_code')) {
    const code = codeField({
      label: 'Recovery code', name: 'code', autocomplete: 'off', enterkeyhint: 'done',
      hint: 'One of the codes you saved when you set up two-step verification. Each code works once.',
    });
    code.input.classList.add('input-recovery');
    recoveryInput = code.input;
    const { form, submit } = formView({ fields: [code], submitLabel: 'Verify' });
    bindForm(ctx, {
      form,
      submit,
      fields: { code },
      check: () => clientCheck([[code, 'Enter one of your recovery codes.']]),
      send: (o) => api.secondFactor('recovery_code', code.input.value.trim(), o),
      done: (res) => finished(ctx, res.data, 'recovery_code'),
      failed: (err) => codeFailed(ctx, err, code),
    });
    recoverySection = h('div', { class: 'step' }, h('h2', null, 'With a recovery code'), form);
    sections.push(recoverySection);
  }

  // One form at a time: the app's code first, a recovery code on request.
  if (totpSection && recoverySection) {
    recoverySection.hidden = true;
    const toRecovery = button('Use a recovery code', { variant: 'quiet' });
    const toApp = button('Use your authenticator app', { variant: 'quiet', hidden: true });
    toRecovery.addEventListener('click', () => {
      totpSection.hidden = true;
      recoverySection.hidden = false;
      toRecovery.hidden = true;
      toApp.hidden = false;
      pg.lead.textContent = 'Your password was right. Enter one of your recovery codes to finish signing in.';
      ctx.page.clearMessages();
      recoveryInput.focus();
    });
    toApp.addEventListener('click', () => {
      recoverySection.hidden = true;
      totpSection.hidden = false;
      toApp.hidden = true;
      toRecovery.hidden = false;
      pg.lead.textContent = leadText;
      ctx.page.clearMessages();
      totpInput.focus();
    });
    switches.push(toRecovery, toApp);
  }

  if (has('passkey')) {
    if (supported()) {
      switches.unshift(passkeyButton(ctx, totpSection ? 'secondary' : 'primary'));
    } else if (!totpSection && !recoverySection) {
      sections.push(h('p', { class: 'muted' }, 'This account signs in with a passkey, and this browser cannot use passkeys. Use another browser or device.'));
    }
  }

  pg.lead.textContent = leadText;
  const other = switches.length
    ? h('div', { class: 'other-ways' },
      sections.length ? h('p', { class: 'muted' }, 'Or finish another way:') : null,
      h('div', { class: 'actions' }, switches))
    : null;
  return [...sections, other, cancelLinks(ctx)];
}

// passkeyButton proves the second factor with a passkey of the account.
function passkeyButton(ctx, variant) {
  const withPasskey = button('Use a passkey', { variant });
  bindButton(ctx, withPasskey, {
    send: async (o) => {
      const begin = await api.passkeyLoginBegin(o);
      const credential = await getPasskey(begin.data, { signal: o.signal });
      return api.passkeyLoginFinish(credential, o);
    },
    done: (res) => finished(ctx, res.data, 'passkey'),
    failed: (err) => passkeyFailed(ctx, err),
  });
  return withPasskey;
}

// stepUpView: the session is signed in with one factor, and what the person
// wanted needs two. A passkey proves the second at once; otherwise signing
// in again leads through the second step.
function stepUpView(ctx, pg, profile) {
  const f = profile.factors || {};
  pg.lead.textContent = 'What you wanted to do needs your second factor as well. Confirm it is you, and you come back to it.';
  const parts = [];
  const actions = [];
  if (f.passkeys > 0 && supported()) {
    actions.push(passkeyButton(ctx, 'primary'));
  }
  const again = button('Sign in again', { variant: actions.length ? 'secondary' : 'primary' });
  // Where the person was going is kept: the sign-in leads back there.
  again.addEventListener('click', () => signInAgain({ email: profile.email, keepReturn: true }));
  actions.push(again);
  parts.push(
    h('p', null, f.totp
      ? 'Sign in again with your password and a code of your authenticator app (or a recovery code).'
      : 'Sign in again with your password, then your second factor.'),
    h('div', { class: 'actions' }, actions));
  return parts;
}

function cancelLinks(ctx) {
  const cancel = button('Cancel and sign out', { variant: 'quiet' });
  bindButton(ctx, cancel, {
    send: (o) => api.logout(o),
    done: () => {
      forget();
      ctx.navigate('/login', { replace: true, notice: { info: 'You have signed out.' } });
    },
    failed: (err) => {
      if (err instanceof ApiError && err.status === 401) {
        forget();
        ctx.navigate('/login', { replace: true });
        return true;
      }
      return false;
    },
  });
  return h('div', { class: 'links' }, h('p', null, 'Not you, or stuck? ', cancel));
}

function codeFailed(ctx, err, code) {
  if (!(err instanceof ApiError)) return false;
  if (err.status === 401) {
    expired(ctx);
    return true;
  }
  if (err.status === 422) {
    const wrong = err.errors.find((e) => e && e.field === 'code');
    code.setError(wrong && wrong.message ? wrong.message : 'That code is not right. Check it and try again.');
    ctx.page.error(err.detail || 'That code is not right.');
    code.input.focus();
    code.input.select();
    return true;
  }
  if (err.status === 429) {
    ctx.page.error(`${waitMessage(err, false)} Each wrong code counts.`);
    return true;
  }
  return false;
}

function passkeyFailed(ctx, err) {
  if (isAbort(err) || ctx.signal.aborted) return true;
  if (isWebAuthnError(err)) ctx.page.error(webAuthnMessage(err));
  else if (err instanceof ApiError && err.code === 'invalid_credentials') {
    ctx.page.error('That passkey was not accepted: it may belong to another account, or have been deleted. Try another way.');
  } else if (err instanceof ApiError && err.status === 401) expired(ctx);
  else ctx.page.error(describe(err));
  return true;
}

export function render(ctx) {
  const pg = page({ title, lead: ' ' });
  ctx.page = pg;
  const box = h('div', { class: 'step-box' });
  pg.body.append(box);

  const methods = expected;
  expected = null;
  if (methods) {
    box.append(...pendingView(ctx, pg, methods));
    return pg;
  }

  // Reached by a link, a reload or from a signed-in screen: ask the server
  // what the session still owes.
  box.setAttribute('aria-busy', 'true');
  box.append(h('p', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Checking your sign-in…'));
  (async () => {
    try {
      const me = await api.me({ signal: ctx.signal, onWait: (err) => pg.error(waitMessage(err, true)) });
      if (ctx.signal.aborted) return;
      const profile = me.data || {};
      const f = profile.factors || {};
      const hasSecond = Boolean(f.totp) || f.passkeys > 0;
      if (profile.aal === 'aal2' || !hasSecond) {
        // Nothing is owed any more.
        ctx.navigate(takeReturnTo(), { replace: true });
        return;
      }
      box.removeAttribute('aria-busy');
      box.replaceChildren(...stepUpView(ctx, pg, profile));
    } catch (err) {
      if (isAbort(err) || ctx.signal.aborted) return;
      box.removeAttribute('aria-busy');
      if (err instanceof ApiError && err.code === 'second_factor_required') {
        const list = err.methods.filter((m) => known.includes(m));
        box.replaceChildren(...pendingView(ctx, pg, list.length ? list : ['totp', 'recovery_code', 'passkey']));
        return;
      }
      if (err instanceof ApiError && err.status === 401) {
        ctx.navigate('/login', { replace: true, notice: { info: 'Sign in to continue.' } });
        return;
      }
      box.replaceChildren(h('p', { class: 'muted' }, 'Reload the page to try again.'));
      pg.error(describe(err));
    }
  })();
  return pg;
}
