// JS-SDK wiring (WECHAT-PLATFORM.md §4.12): wx.config with the server's signature for this
// page's URL, then share data and the close button. Nothing else of the JS-SDK is used.
(function () {
  var holder = document.getElementById("wx-config");
  var cfg = holder ? JSON.parse(holder.textContent) : null;
  document.querySelectorAll("[data-close-window]").forEach(function (el) {
    el.addEventListener("click", function (event) {
      if (window.wx && cfg) { event.preventDefault(); window.wx.closeWindow(); }
    });
  });
  if (!cfg || !window.wx) { return; }
  window.wx.config({debug: false, appId: cfg.appId, timestamp: cfg.timestamp,
                    nonceStr: cfg.nonceStr, signature: cfg.signature, jsApiList: cfg.jsApiList});
  window.wx.ready(function () {
    var share = {title: cfg.share.title || document.title, desc: cfg.share.desc,
                 link: cfg.share.link, imgUrl: cfg.share.imgUrl || ""};
    window.wx.updateAppMessageShareData(share);
    window.wx.updateTimelineShareData(share);
  });
})();
