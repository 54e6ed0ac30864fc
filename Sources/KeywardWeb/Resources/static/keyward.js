// Keyward registry: the one script, served from /static (the CSP allows no inline script). Every form works without
// it; with it, the access group form offers the chosen key's components and the menus its profile allows at once,
// instead of after the "Next" step.
(function () {
  "use strict";
  var form = document.getElementById("group-form");
  if (!form) { return; }
  var key = document.getElementById("keySerial");
  var component = document.getElementById("component");
  var chooseKey = document.getElementById("choose-key-actions");
  var step = document.getElementById("group-step-2");
  var profileText = document.getElementById("key-profile");
  var order = ["view", "basic", "staff", "manager"];
  var each = function (list, action) { Array.prototype.forEach.call(list, action); };

  function chosenKey() {
    var option = key.options[key.selectedIndex];
    return option && option.value ? option : null;
  }

  function showMenus() {
    var option = chosenKey();
    if (!option) { return; }
    var level = order.indexOf(option.getAttribute("data-profile"));
    each(form.querySelectorAll("fieldset[data-component]"), function (fieldset) {
      var shown = fieldset.getAttribute("data-component") === component.value;
      fieldset.hidden = !shown;
      fieldset.disabled = !shown;
      each(fieldset.querySelectorAll("label[data-profile]"), function (label) {
        var allowed = order.indexOf(label.getAttribute("data-profile")) <= level;
        var box = label.querySelector("input");
        label.hidden = !allowed;
        box.disabled = !allowed;
        if (!allowed) { box.checked = false; }
      });
    });
  }

  function applyKey() {
    var option = chosenKey();
    step.hidden = !option;
    if (!option) { return; }
    var offered = (option.getAttribute("data-components") || "").split(" ");
    var first = null;
    each(component.options, function (choice) {
      var ok = offered.indexOf(choice.value) >= 0;
      choice.hidden = !ok;
      choice.disabled = !ok;
      if (ok && !first) { first = choice; }
    });
    var current = component.options[component.selectedIndex];
    if ((!current || current.disabled) && first) { first.selected = true; }
    if (profileText) { profileText.textContent = option.getAttribute("data-profile"); }
    showMenus();
  }

  if (chooseKey) { chooseKey.hidden = true; }
  key.addEventListener("change", applyKey);
  component.addEventListener("change", showMenus);
  applyKey();
}());

// Copy buttons (the console's access key, a new token): shown only where the script runs, they copy the named field.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value || field.textContent).then(function () {
        button.textContent = "Copied";
      }, function () {
        field.select();
        button.textContent = "Select and copy (Ctrl+C)";
      });
    });
  });
}());
