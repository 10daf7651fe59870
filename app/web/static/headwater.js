// Scroll each lineage graph just enough that the version the page is about, and the column
// after it, are in view, keeping as many of its ancestors on screen as fit. Without scripts
// the graph works the same; it only starts at its left edge.
for (const box of document.querySelectorAll(".graph-scroll")) {
  const root = box.querySelector(".node.root rect");
  if (root) {
    const right = root.x.baseVal.value + 2 * root.width.baseVal.value + 120;
    box.scrollLeft = Math.max(0, right - box.clientWidth);
    const middle = root.y.baseVal.value + root.height.baseVal.value / 2;
    box.scrollTop = Math.max(0, middle - box.clientHeight / 2);
  }
}
