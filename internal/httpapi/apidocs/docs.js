// Starts Swagger UI on authd's own OpenAPI document. Kept out of the page
// so that the page's Content-Security-Policy allows no inline script.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    layout: "BaseLayout",
    // Calls from the page are same-origin and carry the session cookie,
    // like the web app's; "Try it out" stays an explicit step.
    tryItOutEnabled: false,
    withCredentials: true,
    // Swagger UI would otherwise ask a public validator about the document.
    validatorUrl: null,
    defaultModelsExpandDepth: 1
  });
})();
