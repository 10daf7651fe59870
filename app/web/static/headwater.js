// Scroll each lineage graph so that the version the page is about starts in view; without
// scripts the graph still works, it only starts at its left edge.
for (const box of document.querySelectorAll(".graph-scroll")) {
  const root = box.querySelector(".node.root rect");
  if (root) {
    box.scrollLeft = root.x.baseVal.value + root.width.baseVal.value / 2 - box.clientWidth / 2;
    box.scrollTop = root.y.baseVal.value + root.height.baseVal.value / 2 - box.clientHeight / 2;
  }
}
