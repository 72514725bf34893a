export function backoffDelay(attempt, minMs, maxMs, random = Math.random) {
    let ceiling = minMs;
    for (let i = 0; i < attempt && ceiling < maxMs; i++)
        ceiling *= 2;
    ceiling = Math.min(ceiling, maxMs);
    if (ceiling <= 0)
        return 0;
    return Math.floor(random() * ceiling);
}
