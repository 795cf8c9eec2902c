// /security: how the account signs in. The session's assurance level and
// the factors; the authenticator app (TOTP: set up with a QR code or the
// key, confirm with a code, turn off); recovery codes (shown once, copy,
// download, new ones); passkeys (add, rename, delete).
//
// The changes are privileged: authd may answer 403 reauth_required (sign
// in again) or second_factor_required (show the second factor), which the
// step gate at the top of the page explains, leaving what was typed as it
// is.

import { api, ApiError } from './api.js';
import { h, nextId } from './dom.js';
import { page, field, formView, bindForm, bindButton, clientCheck, button, stepGate } from './ui.js';
import { timeEl, agoEl, aalText, browserName } from './format.js';
import { supported, createPasskey, isWebAuthnError, webAuthnMessage } from './webauthn.js';

export const title = 'Security';
export const signedIn = true;

// The name typed for a new passkey survives a trip to sign in again (in
// this document's memory only; it is not secret).
let passkeyNameDraft = null;

export async function load(ctx, o) {
  const res = await api.passkeys(o);
  return (res.data && Array.isArray(res.data.passkeys)) ? res.data.passkeys : [];
}

function detail(label, testid, text) {
  return h('div', null, h('dt', null, label), h('dd', null, h('span', { class: 'value', dataset: { testid } }, text)));
}

// groups writes a TOTP key in groups of four, for typing it by hand.
function groups(secret) {
  return String(secret).replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

// confirmRow is an inline "are you sure": the question and two buttons,
// shown in place of the button that asked.
function confirmRow(question, yesLabel, { noLabel = 'Cancel', variant = 'danger' } = {}) {
  const yes = button(yesLabel, { variant });
  const no = button(noLabel);
  const qid = nextId('confirm');
  yes.setAttribute('aria-describedby', qid);
  const root = h('div', { class: 'confirm', hidden: true }, h('p', { id: qid }, question), h('div', { class: 'actions' }, yes, no));
  return { root, yes, no };
}

export function render(ctx, passkeys) {
  const pg = page({
    title, layout: 'wide',
    lead: 'How you sign in to your account. A second factor (an authenticator app or a passkey) keeps it safe even if your password leaks.',
  });
  ctx.page = pg;
  const gate = stepGate(ctx);
  let profile = ctx.profile;
  let list = passkeys.slice();

  // ---- overview ----------------------------------------------------------
  const aalEl = h('span', { class: 'value', dataset: { testid: 'security-aal' } });
  const totpEl = h('span', { class: 'value', dataset: { testid: 'security-totp' } });
  const passkeysEl = h('span', { class: 'value', dataset: { testid: 'security-passkeys' } });
  const overview = h('section', { class: 'card' },
    h('h2', null, 'Overview'),
    h('dl', { class: 'details' },
      h('div', null, h('dt', null, 'This sign-in'), h('dd', null, aalEl)),
      h('div', null, h('dt', null, 'Authenticator app'), h('dd', null, totpEl)),
      h('div', null, h('dt', null, 'Passkeys'), h('dd', null, passkeysEl))));

  // ---- recovery codes ----------------------------------------------------
  const recoveryHeading = h('h2', { tabindex: '-1' }, 'Recovery codes');
  const leftEl = h('span', { dataset: { testid: 'recovery-codes-left' } });
  const leftP = h('p', null, leftEl);
  const noCodes = h('p', { class: 'muted' },
    'Recovery codes let you in if you lose your authenticator app or your passkeys. You get them with a second factor.');
  const renew = button('Get new recovery codes');
  const renewConfirm = confirmRow('Your current recovery codes will stop working. Get new ones?', 'Get new codes', { variant: 'primary' });
  const renewRow = h('div', { class: 'actions' }, renew);
  const codesBox = h('div', { class: 'codes-box', hidden: true });
  const recoveryCard = h('section', { class: 'card' }, recoveryHeading, leftP, noCodes, renewRow, renewConfirm.root, codesBox);

  let blobURL = null;
  ctx.signal.addEventListener('abort', () => {
    if (blobURL) URL.revokeObjectURL(blobURL);
    blobURL = null;
  });

  // showCodes puts a new set of codes on the screen: the only time they
  // are shown.
  function showCodes(codes) {
    const headingId = nextId('codes');
    const heading = h('h3', { id: headingId, tabindex: '-1' }, 'Your new recovery codes');
    const items = codes.map((c) => h('li', null, h('code', { class: 'mono', dataset: { testid: 'recovery-code' } }, c)));
    const text = `${codes.join('\n')}\n`;
    const copy = button('Copy');
    const download = h('a', { class: 'btn btn-secondary', href: '#', download: 'authd-recovery-codes.txt' }, 'Download');
    const saved = button('I have saved them', { variant: 'primary' });
    if (blobURL) URL.revokeObjectURL(blobURL);
    blobURL = URL.createObjectURL(new Blob([
      `Recovery codes for ${profile.email}\nEach code works once. Keep them somewhere safe.\n\n${text}`,
    ], { type: 'text/plain' }));
    download.href = blobURL;
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(text);
        pg.info('The recovery codes were copied.');
      } catch {
        const sel = window.getSelection();
        const range = document.createRange();
        range.selectNodeContents(codesList);
        sel.removeAllRanges();
        sel.addRange(range);
        pg.error('The browser did not let us copy. The codes are selected: copy them with your keyboard or menu.');
      }
    });
    saved.addEventListener('click', () => {
      codesBox.hidden = true;
      codesBox.replaceChildren();
      if (blobURL) URL.revokeObjectURL(blobURL);
      blobURL = null;
      recoveryHeading.focus();
    });
    const codesList = h('ol', { class: 'codes', 'aria-labelledby': headingId }, items);
    codesBox.replaceChildren(
      heading,
      h('p', { class: 'note', dataset: { testid: 'codes-once' } },
        h('strong', null, 'These codes are shown only once. '),
        'Save them now, somewhere other than this device: a password manager, or printed. Each code signs you in once when you cannot use your second factor.'),
      codesList,
      h('div', { class: 'actions' }, copy, download, saved));
    codesBox.hidden = false;
    heading.focus();
  }

  renew.addEventListener('click', () => {
    if (profile.factors && profile.factors.recovery_codes_left > 0) {
      renewRow.hidden = true;
      renewConfirm.root.hidden = false;
      renewConfirm.yes.focus();
    } else {
      renewConfirm.yes.click();
    }
  });
  renewConfirm.no.addEventListener('click', () => {
    renewConfirm.root.hidden = true;
    renewRow.hidden = false;
    renew.focus();
  });
  bindButton(ctx, renewConfirm.yes, {
    send: (o) => {
      gate.hide();
      return api.newRecoveryCodes(o);
    },
    done: async (res) => {
      renewConfirm.root.hidden = true;
      renewRow.hidden = false;
      const codes = res.data && Array.isArray(res.data.recovery_codes) ? res.data.recovery_codes : [];
      showCodes(codes);
      pg.info('New recovery codes were created; the old ones no longer work.');
      await refresh();
    },
    failed: (err) => {
      renewConfirm.root.hidden = true;
      renewRow.hidden = false;
      return gate.handle(err);
    },
  });

  // ---- authenticator app -------------------------------------------------
  const totpHeading = h('h2', { tabindex: '-1' }, 'Authenticator app');
  const totpStatus = h('p');
  const setup = button('Set up authenticator app', { variant: 'primary' });
  const setupRow = h('div', { class: 'actions' }, setup);
  const removeBtn = button('Turn off', { variant: 'danger' });
  const removeRow = h('div', { class: 'actions' }, removeBtn);
  const removeConfirm = confirmRow(
    'Turn off the authenticator app? Sign-ins will no longer ask for its codes.', 'Turn off authenticator app', { noLabel: 'Keep it' });
  const enrolBox = h('div', { class: 'enrol', hidden: true });
  const totpCard = h('section', { class: 'card' }, totpHeading, totpStatus, setupRow, enrolBox, removeRow, removeConfirm.root);

  bindButton(ctx, setup, {
    send: (o) => {
      gate.hide();
      return api.totpSetup(o);
    },
    done: (res) => showEnrolment(res.data || {}),
    failed: (err) => gate.handle(err),
  });

  function showEnrolment(data) {
    const code = field({
      label: 'Code from the app', name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric',
      autocapitalize: 'none', spellcheck: 'false', enterkeyhint: 'done', required: true,
      hint: 'The 6-digit code the app shows after adding the account.',
    });
    code.input.classList.add('input-code');
    const cancel = button('Cancel');
    const { form, submit } = formView({ fields: [code], submitLabel: 'Turn on', actions: [cancel] });
    const stepId = nextId('enrol');
    const img = typeof data.qr_code === 'string' && data.qr_code.startsWith('data:image/')
      ? h('img', { class: 'qr', src: data.qr_code, width: 200, height: 200, alt: 'QR code to add this account to an authenticator app' })
      : null;
    enrolBox.replaceChildren(
      h('h3', { id: stepId, tabindex: '-1' }, 'Set up your authenticator app'),
      h('ol', { class: 'steps' },
        h('li', null, 'Open an authenticator app on your phone and add an account.'),
        h('li', null, 'Scan this QR code with it',
          img ? h('div', { class: 'qr-wrap' }, img) : ':',
          h('p', { class: 'muted' }, 'Cannot scan it? Enter this key by hand instead (time-based, 6 digits):'),
          h('p', null, h('code', { class: 'secret', dataset: { testid: 'totp-secret' } }, groups(data.secret || '')))),
        h('li', null, 'Enter the code the app shows to turn it on.', form)));
    enrolBox.hidden = false;
    setupRow.hidden = true;
    enrolBox.querySelector('h3').focus();

    cancel.addEventListener('click', () => {
      enrolBox.hidden = true;
      enrolBox.replaceChildren();
      setupRow.hidden = false;
      setup.focus();
      pg.info('The authenticator app was not turned on.');
    });

    bindForm(ctx, {
      form,
      submit,
      fields: { code },
      check: () => clientCheck([[code, 'Enter the 6-digit code from your authenticator app.']]),
      send: (o) => {
        gate.hide();
        return api.totpConfirm(code.input.value.replace(/[\s-]+/g, ''), o);
      },
      done: async (res) => {
        enrolBox.hidden = true;
        enrolBox.replaceChildren();
        const codes = res.data && Array.isArray(res.data.recovery_codes) ? res.data.recovery_codes : [];
        await refresh();
        pg.info('The authenticator app is on. Save your recovery codes now.');
        if (codes.length) showCodes(codes);
      },
      failed: (err) => {
        if (gate.handle(err)) return true;
        if (err instanceof ApiError && err.code === 'totp_not_pending') {
          enrolBox.hidden = true;
          enrolBox.replaceChildren();
          setupRow.hidden = false;
          pg.error(`${err.detail} Start the set-up again.`);
          setup.focus();
          return true;
        }
        if (err instanceof ApiError && err.code === 'totp_already_enabled') {
          enrolBox.hidden = true;
          enrolBox.replaceChildren();
          refresh();
          pg.error(err.detail);
          return true;
        }
        return false;
      },
    });
  }

  removeBtn.addEventListener('click', () => {
    removeRow.hidden = true;
    removeConfirm.root.hidden = false;
    removeConfirm.yes.focus();
  });
  removeConfirm.no.addEventListener('click', () => {
    removeConfirm.root.hidden = true;
    removeRow.hidden = false;
    removeBtn.focus();
  });
  bindButton(ctx, removeConfirm.yes, {
    send: (o) => {
      gate.hide();
      return api.totpRemove(o);
    },
    done: async () => {
      removeConfirm.root.hidden = true;
      await refresh();
      totpHeading.focus();
      pg.info('The authenticator app was turned off.');
    },
    failed: (err) => {
      removeConfirm.root.hidden = true;
      removeRow.hidden = false;
      return gate.handle(err);
    },
  });

  // ---- passkeys ------------------------------------------------------------
  const passkeysHeading = h('h2', { tabindex: '-1' }, 'Passkeys');
  const listEl = h('ul', { class: 'list list-inset', 'aria-label': 'Your passkeys' });
  const none = h('p', { class: 'muted' }, 'No passkeys yet.');
  const name = field({
    label: 'Passkey name', name: 'name', autocomplete: 'off', spellcheck: 'false',
    value: passkeyNameDraft !== null ? passkeyNameDraft : browserName(navigator.userAgent).slice(0, 64),
    hint: 'To tell your passkeys apart later, such as “Work laptop”. Up to 64 characters.',
  });
  passkeyNameDraft = null;
  name.input.maxLength = 64;
  const add = formView({ fields: [name], submitLabel: 'Add a passkey' });
  const passkeysCard = h('section', { class: 'card' }, passkeysHeading,
    h('p', { class: 'muted' }, 'Sign in with your fingerprint, face or screen lock instead of a password. A passkey counts as two factors.'),
    listEl, none);
  if (supported()) {
    passkeysCard.append(h('h3', null, 'Add a passkey'), add.form);
  } else {
    passkeysCard.append(h('p', { class: 'callout' }, 'This browser cannot create or use passkeys. Open this page in a browser that can to add one.'));
  }

  bindForm(ctx, {
    form: add.form,
    submit: add.submit,
    fields: { name },
    send: async (o) => {
      gate.hide();
      const begin = await api.passkeyRegisterBegin(o);
      const credential = await createPasskey(begin.data, { signal: o.signal });
      return api.passkeyRegisterFinish(name.input.value.trim(), credential, o);
    },
    done: async (res) => {
      const pk = res.data || {};
      list.push(pk);
      drawPasskeys();
      await refresh();
      const first = list.length === 1 && !(profile.factors && profile.factors.recovery_codes_left > 0);
      pg.info(first
        ? `Passkey “${pk.name || 'Passkey'}” added. Get recovery codes too, in case you lose this device.`
        : `Passkey “${pk.name || 'Passkey'}” added.`);
      name.input.value = '';
    },
    failed: (err) => {
      if (err instanceof ApiError && (err.code === 'reauth_required' || err.code === 'second_factor_required')) {
        passkeyNameDraft = name.input.value;
      }
      if (gate.handle(err)) return true;
      if (isWebAuthnError(err)) {
        pg.error(webAuthnMessage(err, { creating: true }));
        return true;
      }
      return false;
    },
  });

  function passkeyItem(pk) {
    const nameId = nextId('passkey');
    const titleEl = h('p', { class: 'item-title', id: nameId, dataset: { testid: 'passkey-name' } }, pk.name || 'Passkey');
    const badges = h('span', { class: 'item-badges' },
      pk.backup_state ? h('span', { class: 'badge' }, 'Synced') : null);
    const meta = h('p', { class: 'item-meta' },
      h('span', null, 'Added ', timeEl(pk.created_at)),
      h('span', null, pk.last_used_at ? ['Last used ', agoEl(pk.last_used_at)] : 'Not used yet'));
    const rename = button('Rename', { 'aria-describedby': nameId });
    const del = button('Delete', { variant: 'danger', 'aria-describedby': nameId });
    const actions = h('div', { class: 'item-actions actions' }, rename, del);
    const li = h('li', { class: 'item item-wrap', dataset: { testid: 'passkey' } },
      h('div', { class: 'item-main' }, h('div', { class: 'item-head' }, titleEl, badges), meta), actions);

    // Rename: an inline form in place of the buttons.
    rename.addEventListener('click', () => {
      const f = field({
        label: `New name for “${pk.name || 'Passkey'}”`, name: 'name', autocomplete: 'off', spellcheck: 'false',
        value: pk.name || '', required: true,
      });
      f.input.maxLength = 64;
      const cancel = button('Cancel');
      const { form, submit } = formView({ fields: [f], submitLabel: 'Save name', actions: [cancel] });
      form.classList.add('item-form');
      actions.hidden = true;
      li.append(form);
      f.input.focus();
      f.input.select();
      const close = () => {
        form.remove();
        actions.hidden = false;
        rename.focus();
      };
      cancel.addEventListener('click', close);
      bindForm(ctx, {
        form,
        submit,
        fields: { name: f },
        check: () => clientCheck([[f, 'Enter a name.']]),
        send: (o) => {
          gate.hide();
          return api.renamePasskey(pk.id, f.input.value.trim(), o);
        },
        done: (res) => {
          Object.assign(pk, res.data || { name: f.input.value.trim() });
          titleEl.textContent = pk.name || 'Passkey';
          close();
          pg.info(`Passkey renamed to “${pk.name}”.`);
        },
        failed: (err) => {
          if (err instanceof ApiError && err.status === 404) {
            removeItem(pk);
            pg.error('That passkey had already been deleted.');
            return true;
          }
          return gate.handle(err);
        },
      });
    });

    // Delete: asked first, in place.
    const confirm = confirmRow('Delete this passkey? You can no longer sign in with it. '
      + 'Remove it from the device or password manager that keeps it too.', 'Delete passkey');
    li.append(confirm.root);
    del.addEventListener('click', () => {
      actions.hidden = true;
      confirm.root.hidden = false;
      confirm.yes.focus();
    });
    confirm.no.addEventListener('click', () => {
      confirm.root.hidden = true;
      actions.hidden = false;
      del.focus();
    });
    bindButton(ctx, confirm.yes, {
      send: (o) => {
        gate.hide();
        return api.deletePasskey(pk.id, o);
      },
      done: async () => {
        removeItem(pk);
        passkeysHeading.focus();
        await refresh();
        pg.info(`Passkey “${pk.name || 'Passkey'}” deleted.`);
      },
      failed: (err) => {
        confirm.root.hidden = true;
        actions.hidden = false;
        if (err instanceof ApiError && err.status === 404) {
          removeItem(pk);
          passkeysHeading.focus();
          pg.info('That passkey had already been deleted.');
          return true;
        }
        return gate.handle(err);
      },
    });
    return li;
  }

  function removeItem(pk) {
    list = list.filter((p) => p !== pk);
    drawPasskeys();
  }

  function drawPasskeys() {
    listEl.replaceChildren(...list.map(passkeyItem));
    listEl.hidden = list.length === 0;
    none.hidden = list.length !== 0;
  }

  // ---- state -------------------------------------------------------------

  // draw shows what the profile says about the factors.
  function draw() {
    const f = profile.factors || {};
    const hasSecond = Boolean(f.totp) || f.passkeys > 0;
    aalEl.textContent = aalText(profile.aal);
    totpEl.textContent = f.totp ? 'On' : 'Off';
    passkeysEl.textContent = String(f.passkeys || 0);

    totpStatus.textContent = f.totp
      ? 'On: signing in with your password also asks for a 6-digit code from your app.'
      : 'Off. With an app such as a password manager or an authenticator, signing in asks for a 6-digit code after your password.';
    const enrolling = !enrolBox.hidden;
    setupRow.hidden = Boolean(f.totp) || enrolling;
    removeRow.hidden = !f.totp || !removeConfirm.root.hidden;

    const left = typeof f.recovery_codes_left === 'number' ? f.recovery_codes_left : 0;
    leftP.hidden = !hasSecond;
    leftEl.textContent = left === 1 ? '1 recovery code left.' : `${left} recovery codes left.`;
    leftEl.dataset.count = String(left);
    noCodes.hidden = hasSecond;
    renew.textContent = left > 0 ? 'Get new recovery codes' : 'Get recovery codes';
    renewRow.hidden = !hasSecond || !renewConfirm.root.hidden;
  }

  // refresh reads the profile again after a change (the factors and the
  // level changed with it).
  async function refresh() {
    try {
      const me = await api.me({ signal: ctx.signal });
      if (me.data) profile = me.data;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && ctx.sessionEnded) {
        ctx.sessionEnded();
        return;
      }
      // The change itself was made; the overview shows what it knew.
    }
    if (!ctx.signal.aborted) draw();
  }

  drawPasskeys();
  draw();
  pg.body.append(gate.root, overview, passkeysCard, totpCard, recoveryCard);
  return pg;
}
