// /login: sign in with e-mail and password, or with a passkey (the button,
// or the browser's autofill of the e-mail field). An account with a second
// factor goes on to /second-factor.

import { api, ApiError, isAbort } from './api.js';
import { h } from './dom.js';
import { page, field, emailField, formView, bindForm, bindButton, clientCheck, button, link, describe, waitMessage } from './ui.js';
import { takeReturnTo, takeLoginHint } from './router.js';
import { expect as expectSecondStep } from './secondfactor.js';
import { offerPasskey } from './home.js';
import { supported, conditionalAvailable, getPasskey, isWebAuthnError, webAuthnMessage } from './webauthn.js';

export const title = 'Sign in';

// afterSignIn is where a sign-in lands: a profile (signed in), or the reply
// that asks for a second step.
export function afterSignIn(ctx, data, { password = false } = {}) {
  if (data && data.second_factor_required === true) {
    expectSecondStep(data.methods);
    ctx.navigate('/second-factor');
    return;
  }
  // A password sign-in of an account without a second factor: offer a
  // passkey once, on the home screen.
  const f = data && data.factors;
  if (password && supported() && f && !f.totp && !(f.passkeys > 0)) offerPasskey();
  ctx.navigate(takeReturnTo());
}

export function render(ctx) {
  const pg = page({ title });
  ctx.page = pg;

  // "username webauthn": the browser offers the account's passkeys in the
  // autofill of this field (conditional mediation, started in mounted()).
  const email = emailField({
    name: 'identifier', enterkeyhint: 'next', autocomplete: 'username webauthn', value: takeLoginHint() || undefined,
  });
  const password = field({
    label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password',
    required: true, enterkeyhint: 'go',
  });
  const { form, submit } = formView({ fields: [email, password], submitLabel: 'Sign in' });

  // Shown when the server wants a verified address before signing in.
  const resend = button('Send a new link');
  const unverified = h('div', { class: 'callout', hidden: true },
    h('p', null, 'Did not get the e-mail, or is the link too old?'), h('div', { class: 'actions' }, resend));

  bindForm(ctx, {
    form,
    submit,
    fields: { identifier: email, email, password },
    check: () => clientCheck([
      [email, 'Enter your e-mail address.'],
      [password, 'Enter your password.'],
    ]),
    send: (o) => {
      unverified.hidden = true;
      return api.login({ identifier: email.input.value.trim(), password: password.input.value }, o);
    },
    done: (res) => afterSignIn(ctx, res.data, { password: true }),
    failed: (err) => {
      if (!(err instanceof ApiError)) return false;
      if (err.status === 401) {
        // One message for an unknown e-mail and a wrong password.
        pg.error(err.detail);
        password.input.focus();
        password.input.select();
        return true;
      }
      if (err.code === 'email_not_verified') {
        pg.error(err.detail);
        unverified.hidden = false;
        return true;
      }
      return false;
    },
  });

  bindButton(ctx, resend, {
    send: (o) => api.resendVerificationLink(email.input.value.trim(), o),
    done: () => {
      unverified.hidden = true;
      pg.info('If an account exists for that address and it is not verified yet, we have sent a new link.');
    },
  });

  const parts = [form, unverified];
  if (supported()) {
    const withPasskey = button('Sign in with a passkey', { class: 'btn btn-secondary btn-block' });
    ctx.passkeyButton = withPasskey;
    parts.push(h('div', { class: 'or' }, h('span', null, 'or')), withPasskey);
  }
  parts.push(h('div', { class: 'links' },
    h('p', null, link('Forgot password?', '/recovery')),
    h('p', null, 'New here? ', link('Create an account', '/register'))));
  pg.body.append(...parts);
  return pg;
}

// passkeyFailed says why a passkey sign-in did not happen.
function passkeyFailed(ctx, err) {
  if (isAbort(err) || ctx.signal.aborted) return;
  if (isWebAuthnError(err)) {
    ctx.page.error(webAuthnMessage(err));
  } else if (err instanceof ApiError && err.status === 401) {
    ctx.page.error('That passkey was not accepted: it may have been deleted from your account. Sign in with your password instead.');
  } else {
    ctx.page.error(describe(err));
  }
}

// mounted starts the passkey sign-ins once the screen is up: the button,
// and the autofill request, which the button (or leaving) aborts.
export function mounted(ctx) {
  const btn = ctx.passkeyButton;
  if (!btn) return;
  let conditional = null; // { controller, settled }
  let modal = false; // the button's request is running

  async function finish(credential) {
    const res = await api.passkeyLoginFinish(credential, { signal: ctx.signal, onWait: (e) => ctx.page.error(waitMessage(e, true)) });
    if (!ctx.signal.aborted) afterSignIn(ctx, res.data);
  }

  async function startConditional() {
    if (ctx.signal.aborted || conditional || modal) return;
    if (!(await conditionalAvailable()) || ctx.signal.aborted || conditional || modal) return;
    const controller = new AbortController();
    const stop = () => controller.abort();
    ctx.signal.addEventListener('abort', stop, { once: true });
    const run = (async () => {
      const begin = await api.passkeyLoginBegin({ signal: controller.signal });
      return getPasskey(begin.data, { signal: controller.signal, mediation: 'conditional' });
    })();
    const mine = { controller, settled: run.then(() => {}, () => {}) };
    conditional = mine;
    let credential;
    try {
      credential = await run;
    } catch (err) {
      // Aborted (the button, or the screen was left), or not to be had
      // here: the form and the button still work, so nothing to say.
      if (conditional === mine) conditional = null;
      ctx.signal.removeEventListener('abort', stop);
      return;
    }
    if (conditional === mine) conditional = null;
    ctx.signal.removeEventListener('abort', stop);
    try {
      btn.disabled = true;
      await finish(credential);
    } catch (err) {
      passkeyFailed(ctx, err);
      if (!ctx.signal.aborted) startConditional();
    } finally {
      if (btn.isConnected) btn.disabled = false;
    }
  }

  bindButton(ctx, btn, {
    send: async (o) => {
      modal = true;
      // One WebAuthn request at a time: end the autofill one first.
      if (conditional) {
        const c = conditional;
        conditional = null;
        c.controller.abort();
        await c.settled;
      }
      const begin = await api.passkeyLoginBegin(o);
      const credential = await getPasskey(begin.data, { signal: o.signal });
      return api.passkeyLoginFinish(credential, { ...o });
    },
    done: (res) => {
      modal = false;
      afterSignIn(ctx, res.data);
    },
    failed: (err) => {
      modal = false;
      passkeyFailed(ctx, err);
      startConditional();
      return true;
    },
  });

  startConditional();
}
